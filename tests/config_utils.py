"""Settings for a test, built strictly: a secrets mapping with any problem raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantviz.config import ConfigError, Settings, instructor_config


def load_settings(secrets: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """`instructor_config`'s settings; ConfigError naming every problem it found instead."""
    config = instructor_config(secrets, env)
    if config.problems:
        raise ConfigError("; ".join(config.problems))
    return config.settings
