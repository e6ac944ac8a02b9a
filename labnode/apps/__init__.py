"""Programs that bind things together: the generic node app (driver -> socket) and its config."""

from .config import ConfigError, NodeConfig, load_config
from .errors import SettingError
from .node_app import NodeApp, NodeSettingError, NodeState

__all__ = [
    "ConfigError",
    "NodeApp",
    "NodeConfig",
    "NodeSettingError",
    "NodeState",
    "SettingError",
    "load_config",
]
