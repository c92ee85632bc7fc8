"""The platform's config: loading, overrides, substitution, error lines, the root model and the
rules across domains. Each domain's own typed models and rules live in its package, beside the
components that consume them.

    config = load_config()   # a PlatformConfig, or a one-line-per-problem ConfigError
"""

from components.config.errors import NAMESPACE, ConfigError, config_error, problem_line
from components.config.loader import load_config, parse
from components.config.root import PlatformConfig

__all__ = ["NAMESPACE", "ConfigError", "PlatformConfig", "config_error", "load_config", "parse", "problem_line"]
