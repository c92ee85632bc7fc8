"""Entry point: read and validate config, build the platform, export its outputs."""

import pulumi

from components.config import load_config
from components.platform import Platform

config = load_config()
platform = Platform(config.app, config)
for key, value in platform.exports.items():
    pulumi.export(key, value)
