"""Config of the planning domain: the stack's time targets, which the timing model checks in every preview."""

from __future__ import annotations

from pydantic import Field

from components.values import Model

# Seed 001's promises: deployment under 5 minutes, rollback under 2, auto-scale response under 1.
SEED_ROLLOUT_SECONDS = 300
SEED_ROLLBACK_SECONDS = 120
SEED_SCALE_UP_SECONDS = 60


class TimingConfig(Model):
    """Per-service bounds in seconds; a service the model puts above one gets a preview warning. null: no bound."""

    rollout_seconds: int | None = Field(SEED_ROLLOUT_SECONDS, ge=1)
    """Bound on a service's modeled rollout at its HPA maximum (the learning example's guide: under 5 minutes); `null` switches it off."""
    rollback_seconds: int | None = Field(SEED_ROLLBACK_SECONDS, ge=1)
    """Bound on its modeled rollback (`kubectl rollout undo`) at its HPA maximum (the learning example's guide: under 2 minutes); `null` switches it off."""
    scale_up_seconds: int | None = Field(SEED_SCALE_UP_SECONDS, ge=1)
    """Bound on its modeled HPA scale-up from minimum to maximum, node provisioning included (the learning example's guide: under 1 minute); `null` switches it off."""
