"""Programs that bind things together: the generic node app (drivers -> socket) and its config."""

from .config import ConfigError, DriverConfig, NodeConfig, load_config
from .node_app import Instrument, InstrumentLoop, NodeApp, NodeSettingError, NodeState

__all__ = [
    "ConfigError",
    "DriverConfig",
    "Instrument",
    "InstrumentLoop",
    "NodeApp",
    "NodeConfig",
    "NodeSettingError",
    "NodeState",
    "load_config",
]
