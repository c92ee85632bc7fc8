"""PromQL expressions against a real parser: promql-parser (PyPI), the Rust port of Prometheus's own grammar."""

from __future__ import annotations

from collections.abc import Iterable

import promql_parser


def promql_failures(expressions: Iterable[str]) -> list[str]:
    """One line per expression that does not parse: "<error>: <expression>"; empty when all parse."""
    failures = []
    for expression in expressions:
        try:
            promql_parser.parse(expression)
        except ValueError as error:
            failures.append(f"{error}: {expression}")
    return failures
