"""Programs that bind things together: the generic node app (drivers -> socket) and its config."""

from labnode._lazy import lazy_exports

#: Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "ConfigError": ".config",
    "DriverConfig": ".config",
    "NodeConfig": ".config",
    "load_config": ".config",
    "SettingError": ".errors",
    "Instrument": ".node_app",
    "InstrumentLoop": ".node_app",
    "NodeApp": ".node_app",
    "NodeSettingError": ".node_app",
    "NodeState": ".node_app",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
