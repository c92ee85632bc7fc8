"""How a config problem is reported: one line naming the stack, the key path and what is allowed.

Every domain's checks yield `(key path, message)` pairs; `config_error` turns them into one
`ConfigError`, a `pulumi.RunError`, which Pulumi prints without a traceback.
"""

from __future__ import annotations

import pulumi

# Every key the program reads lives under this Pulumi config namespace.
NAMESPACE = "platform"

# A problem found in config: the key path below `platform:` and what is wrong or allowed.
Problem = tuple[str, str]


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. Pulumi prints a RunError's message without a traceback."""


class Problems(Exception):
    """Raised inside the loader to carry every problem found so far up to `parse`."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


def problem_line(stack: str, path: str, message: str) -> str:
    """The one format every config problem is reported in: stack, key path, what is wrong or allowed."""
    return f"stack '{stack}': {NAMESPACE}:{path}: {message}"


def config_error(stack: str, problems: list[Problem]) -> ConfigError:
    """One ConfigError with a line per (key path, message)."""
    return ConfigError("\n".join(problem_line(stack, path, message) for path, message in problems))
