"""Reading a project's YAML files (Pulumi.yaml, Pulumi.<stack>.yaml, catalog files) strictly, with one-line errors.

PyYAML's `safe_load` keeps the last of two equal keys in a mapping, so a second `platform:overrides`
pasted into a stack file silently drops the first, and the errors that follow name services the
user never touched. `load_yaml` refuses a duplicate key instead, naming the key, the file and both
lines; a syntax error becomes one line with the file, line and column. Both are `StackFileError`,
which `tools.plan` prints without a traceback, the test harness raises as it is, and the config loader
reports for a `catalogFiles` file as its one-line config error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node


class StackFileError(Exception):
    """A project or stack file that cannot be read as it was written; the message is one line."""


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key repeated in one mapping."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it itself below
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key}' (first at line {first}); YAML would keep only the last, "
                        "so merge the two into one",
                        key_node.start_mark,
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def load_yaml(path: Path) -> Any:
    """The document in `path`, refusing duplicate keys; any problem is one `StackFileError` line."""
    try:
        return yaml.load(path.read_text(), Loader=StrictLoader)  # StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = error.problem or error.context or "not valid YAML"
        raise StackFileError(f"{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path}: {' '.join(str(error).split())}") from None
