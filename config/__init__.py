"""Settings of the registry: defaults -> optional TOML file -> ``CREDITREG_*`` environment.

The result is validated once, at start-up, with a message that names the bad key. Nothing
in the code base reads the environment for configuration anywhere else.
"""

from config.settings import (
    DEFAULT_SECRETS,
    PROFILES,
    SETTINGS,
    SETTINGS_BY_KEY,
    ConfigError,
    Setting,
    Settings,
    load_settings,
)

__all__ = [
    "DEFAULT_SECRETS",
    "PROFILES",
    "SETTINGS",
    "SETTINGS_BY_KEY",
    "ConfigError",
    "Setting",
    "Settings",
    "load_settings",
]
