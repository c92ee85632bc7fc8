"""The top of the config: loading, overrides, substitution, the root model and the rules across
domains. It imports every domain's config; no domain imports it back. The base types every domain's
models are built from live below the domains, in `components/values.py` (value types, the strict base
model) and `components/errors.py` (the one-line error format).

    config = load_config()   # a PlatformConfig, or a one-line-per-problem ConfigError
"""

from components.config.loader import load_config, parse
from components.config.root import PlatformConfig
from components.errors import NAMESPACE, ConfigError, config_error, problem_line

__all__ = ["NAMESPACE", "ConfigError", "PlatformConfig", "config_error", "load_config", "parse", "problem_line"]
