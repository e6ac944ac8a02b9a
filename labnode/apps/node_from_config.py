"""Build a NodeApp from a checked NodeConfig, turning driver mistakes into ConfigErrors."""

from __future__ import annotations

import inspect
import re

from labnode.drivers import Driver, DriverConfigError, UnknownDriverError
from labnode.drivers.registry import resolve_driver
from labnode.sockets import CodenameError
from labnode.sockets.codenames import check_codenames

from .config import ConfigError, DriverConfig, NodeConfig
from .node_app import Instrument, NodeApp

#: Python's own messages when keywords do not fit a constructor's signature.
_UNEXPECTED = re.compile(r"got an unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: '(\w+)'")


def driver_config_error(
    config: NodeConfig, error: DriverConfigError, entry: DriverConfig | None = None
) -> ConfigError:
    """The ConfigError for a DriverConfigError, on the key of ``entry`` (default: the first
    driver) it names."""
    entry = entry or _entries(config)[0]
    setting = getattr(error, "setting", None)
    if setting is None:
        setting = next((k for k in entry.options if repr(k) in error.reason), None)
    key = f"{entry.key}.{setting}" if setting else entry.key
    return ConfigError(config.path, key, error.reason)


def _entries(config: NodeConfig) -> list[DriverConfig]:
    """The config's drivers (a NodeConfig made in code may give only driver_type etc.)."""
    if config.drivers:
        return config.drivers
    return [DriverConfig(config.driver_type, config.resource, config.driver_options)]


def build_driver(config: NodeConfig, entry: DriverConfig | None = None) -> Driver:
    """Construct the configured driver, ``entry`` or the first (it is not connected yet)."""
    entry = entry or _entries(config)[0]
    try:
        driver_class = resolve_driver(entry.type)
    except UnknownDriverError as error:
        raise ConfigError(config.path, f"{entry.key}.type", str(error)) from None
    try:
        return driver_class(entry.resource, **entry.options)
    except DriverConfigError as error:
        raise driver_config_error(config, error, entry) from None
    except TypeError as error:
        raise _constructor_mismatch(driver_class, error, config, entry.key) from None


def _constructor_mismatch(
    driver_class: type, error: TypeError, config: NodeConfig, section: str = "driver"
) -> ConfigError:
    """Turn Python's "unexpected/missing keyword argument" into a ConfigError on that key."""
    message = str(error)
    signature = f"{driver_class.__name__}{inspect.signature(driver_class.__init__)}"
    unexpected, missing = _UNEXPECTED.search(message), _MISSING.search(message)
    if unexpected:
        name = unexpected.group(1)
        return ConfigError(
            config.path, f"{section}.{name}", f"not a keyword of this driver; it takes {signature}"
        )
    if missing:
        name = missing.group(1)
        return ConfigError(
            config.path,
            f"{section}.{name}",
            f"missing; {driver_class.__name__} needs {name} (a key, or a [driver.{name}] table)",
        )
    return ConfigError(
        config.path, section, f"{driver_class.__name__} rejected its settings: {message}"
    )


def build_node_app(config: NodeConfig) -> NodeApp:
    """Construct the drivers and the node app a config file describes; raise ConfigError."""
    entries = _entries(config)
    drivers = [build_driver(config, entry) for entry in entries]
    if len(entries) == 1:
        codenames = _single_driver_codenames(config, drivers[0], entries[0].prefix)
    else:
        codenames = _several_drivers_codenames(config, entries, drivers)
    if codenames and isinstance(config.timeout, dict):
        unknown = sorted(set(config.timeout) - set(codenames))
        if unknown:
            raise ConfigError(
                config.path,
                f"node.timeout.{unknown[0]}",
                f"unknown codename; the node's codenames are {', '.join(codenames)}",
            )
    unknown = sorted(set(config.channels) - set(codenames or ()))
    if codenames and unknown:
        raise ConfigError(
            config.path,
            f"channels.{unknown[0]}",
            f"unknown codename; the node's codenames are {', '.join(codenames)}",
        )
    instruments = [
        Instrument(driver, entry.prefix, None if entry.key == "driver" else entry.key)
        for entry, driver in zip(entries, drivers, strict=True)
    ]
    return NodeApp(
        instruments,
        interval=config.interval,
        timeout=config.timeout,
        name=config.name,
        host=config.host,
        port=config.port,
        codenames=config.codenames,
        backoff_max=config.reconnect_max,
        allow=config.allow,
        status_host_facts=config.status_host_facts is not False,
        channels=config.channels,
    )


def _single_driver_codenames(config: NodeConfig, driver: Driver, prefix: str) -> list[str] | None:
    """The codenames one driver serves (declared or node.codenames), checked; None: learnt."""
    declared = driver.codenames
    if declared and prefix:
        declared = [prefix + name for name in declared]
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
    return codenames


def _several_drivers_codenames(
    config: NodeConfig, entries: list[DriverConfig], drivers: list[Driver]
) -> list[str]:
    """Every driver's codenames with its prefix: each known up front, none served twice."""
    if config.codenames:
        raise ConfigError(
            config.path,
            "node.codenames",
            "applies to a single [driver]; in [[driver]] entries each driver names its own",
        )
    owner: dict[str, str] = {}
    for entry, driver in zip(entries, drivers, strict=True):
        declared = driver.codenames
        if not declared:
            raise ConfigError(
                config.path,
                entry.key,
                f"{type(driver).__name__} names its codenames only after a first reading; a "
                "node with several drivers serves codenames known up front: give this entry "
                "the keys that name them (`labnode drivers` lists them; alicat: fields = [...])",
            )
        for codename in (entry.prefix + name for name in declared):
            if codename in owner:
                raise ConfigError(
                    config.path,
                    f"{entry.key}.prefix",
                    f"codename {codename!r} is served by {owner[codename]} too; give this entry "
                    'a prefix that makes its codenames differ, e.g. prefix = "mfc2_"',
                )
            owner[codename] = entry.key
        try:
            check_codenames([entry.prefix + name for name in declared])
        except CodenameError as error:
            raise ConfigError(config.path, entry.key, str(error)) from None
    return list(owner)
