"""The platform's config: loading, overrides, substitution, error lines, the root model and the
rules across domains. Each domain's own typed models and rules live in its package, beside the
components that consume them.

    config = load_config()   # a PlatformConfig, or a one-line-per-problem ConfigError

The loader and the root model are imported on first use: they import every domain's config, and a
domain's config imports this package's errors and values.
"""

from typing import Any

from components.config.errors import NAMESPACE, ConfigError, config_error, problem_line

__all__ = ["NAMESPACE", "ConfigError", "PlatformConfig", "config_error", "load_config", "parse", "problem_line"]


def __getattr__(name: str) -> Any:
    if name in ("load_config", "parse"):
        from components.config import loader

        return getattr(loader, name)
    if name == "PlatformConfig":
        from components.config.root import PlatformConfig

        return PlatformConfig
    raise AttributeError(f"module 'components.config' has no attribute {name!r}")
