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


def build_driver(config: NodeConfig) -> Driver:
    """Construct the configured driver (it is not connected yet)."""
    try:
        driver_class = resolve_driver(config.driver_type)
    except UnknownDriverError as error:
        raise ConfigError(config.path, "driver.type", str(error)) from None
    try:
        return driver_class(config.resource, **config.driver_options)
    except DriverConfigError as error:
        key = _offending_key(str(error), config)
        raise ConfigError(config.path, key, error.reason) from None
    except TypeError as error:
        raise _constructor_mismatch(driver_class, error, config) from None


def _constructor_mismatch(driver_class: type, error: TypeError, config: NodeConfig) -> ConfigError:
    """Turn "missing argument 'queries'" and its kin into a ConfigError on that key."""
    message = str(error)
    names = re.findall(r"'(\w+)'", message.partition(":")[2] or message)
    key = f"driver.{names[-1]}" if names else "driver"
    signature = inspect.signature(driver_class.__init__)
    if "missing" in message and names:
        problem = (
            f"missing; {driver_class.__name__} needs {names[-1]} "
            f"(a key, or a [driver.{names[-1]}] table)"
        )
    else:
        problem = f"{driver_class.__name__} does not take it ({message})"
    return ConfigError(
        config.path, key, f"{problem}; its constructor is {driver_class.__name__}{signature}"
    )


def _offending_key(message: str, config: NodeConfig) -> str:
    for key in config.driver_options:
        if repr(key) in message:
            return f"driver.{key}"
    return "driver"


def build_node_app(config: NodeConfig) -> NodeApp:
    """Construct the driver and the node app a config file describes; raise ConfigError."""
    driver = build_driver(config)
    codenames = config.codenames or driver.codenames
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
    )
