"""Build a NodeApp from a checked NodeConfig, turning driver mistakes into ConfigErrors."""

from __future__ import annotations

from labnode.drivers import Driver, DriverConfigError, UnknownDriverError
from labnode.drivers.registry import check_keywords, resolve_driver
from labnode.sockets import CodenameError
from labnode.sockets.codenames import check_codenames

from .config import ConfigError, NodeConfig
from .node_app import NodeApp


def driver_config_error(config: NodeConfig, error: DriverConfigError) -> ConfigError:
    """The ConfigError for a DriverConfigError, on the [driver] key it names."""
    setting = getattr(error, "setting", None)
    if setting is None:
        setting = next((k for k in config.driver_options if repr(k) in error.reason), None)
    key = f"driver.{setting}" if setting else "driver"
    return ConfigError(config.path, key, error.reason)


def build_driver(config: NodeConfig) -> Driver:
    """Construct the configured driver (it is not connected yet)."""
    try:
        driver_class = resolve_driver(config.driver_type)
    except UnknownDriverError as error:
        raise ConfigError(config.path, "driver.type", str(error)) from None
    try:
        check_keywords(driver_class, config.driver_options)
        return driver_class(config.resource, **config.driver_options)
    except DriverConfigError as error:
        raise driver_config_error(config, error) from None
    except TypeError as error:
        raise _constructor_mismatch(driver_class, error, config) from None


def _constructor_mismatch(driver_class: type, error: TypeError, config: NodeConfig) -> ConfigError:
    """A TypeError from a constructor whose keywords fit (check_keywords): its own message."""
    message = str(error)
    return ConfigError(
        config.path, "driver", f"{driver_class.__name__} rejected its settings: {message}"
    )


def build_node_app(config: NodeConfig) -> NodeApp:
    """Construct the driver and the node app a config file describes; raise ConfigError."""
    driver = build_driver(config)
    declared = driver.codenames
    if config.codenames and declared and list(config.codenames) != list(declared):
        raise ConfigError(
            config.path,
            "node.codenames",
            f"{type(driver).__name__} declares its codenames ({', '.join(declared)}); "
            "remove node.codenames",
        )
    codenames = config.codenames or declared
    if codenames:
        try:
            check_codenames(codenames)
        except CodenameError as error:
            key = "node.codenames" if config.codenames else "driver"
            raise ConfigError(config.path, key, str(error)) from None
        if isinstance(config.timeout, dict):
            unknown = sorted(set(config.timeout) - set(codenames))
            if unknown:
                raise ConfigError(
                    config.path,
                    f"node.timeout.{unknown[0]}",
                    f"unknown codename; the node's codenames are {', '.join(codenames)}",
                )
    return NodeApp(
        driver,
        interval=config.interval,
        timeout=config.timeout,
        name=config.name,
        host=config.host,
        port=config.port,
        codenames=config.codenames,
        backoff_max=config.reconnect_max,
        allow=config.allow,
        status_host_facts=config.status_host_facts is not False,
    )
