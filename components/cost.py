"""STUB - replaced by the cost work (issue 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.config import PlatformConfig


@dataclass(frozen=True)
class CostEstimate:
    def summary(self) -> dict[str, Any]:
        return {}


def estimate_cost(config: PlatformConfig) -> CostEstimate:
    return CostEstimate()
