"""Build a NodeApp from a checked NodeConfig, turning driver mistakes into ConfigErrors."""

from __future__ import annotations

import inspect
import re

from labnode.drivers import Driver, DriverConfigError, UnknownDriverError
from labnode.drivers.registry import resolve_driver
from labnode.sockets import CodenameError
from labnode.sockets.codenames import check_codenames

from .config import ConfigError, NodeConfig
from .node_app import NodeApp

#: Python's own messages when keywords do not fit a constructor's signature.
_UNEXPECTED = re.compile(r"got an unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: '(\w+)'")


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
        return driver_class(config.resource, **config.driver_options)
    except DriverConfigError as error:
        raise driver_config_error(config, error) from None
    except TypeError as error:
        raise _constructor_mismatch(driver_class, error, config) from None


def _constructor_mismatch(driver_class: type, error: TypeError, config: NodeConfig) -> ConfigError:
    """Turn Python's "unexpected/missing keyword argument" into a ConfigError on that key."""
    message = str(error)
    signature = f"{driver_class.__name__}{inspect.signature(driver_class.__init__)}"
    unexpected, missing = _UNEXPECTED.search(message), _MISSING.search(message)
    if unexpected:
        name = unexpected.group(1)
        return ConfigError(
            config.path, f"driver.{name}", f"not a keyword of this driver; it takes {signature}"
        )
    if missing:
        name = missing.group(1)
        return ConfigError(
            config.path,
            f"driver.{name}",
            f"missing; {driver_class.__name__} needs {name} (a key, or a [driver.{name}] table)",
        )
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
