"""STUB - replaced by the capacity work (issue 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.config import PlatformConfig


@dataclass(frozen=True)
class CapacityReport:
    def summary(self) -> dict[str, Any]:
        return {}


def check_capacity(config: PlatformConfig) -> CapacityReport:
    return CapacityReport()
