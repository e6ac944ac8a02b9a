"""Programs that bind things together: the generic node app (driver -> socket) and its config."""

from .config import ConfigError, NodeConfig, load_config
from .node_app import NodeApp, NodeState

__all__ = ["ConfigError", "NodeApp", "NodeConfig", "NodeState", "load_config"]
