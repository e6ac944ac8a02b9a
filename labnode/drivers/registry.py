"""Drivers by short name (`scpi`, `dmm34461a`, `tpg26x`) or by `package.module:Class` path."""

from __future__ import annotations

import importlib.util
import inspect
import pkgutil
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from labnode.drivers.errors import DriverConfigError, UnknownDriverError

if TYPE_CHECKING:
    from labnode.drivers.base import Driver

T = TypeVar("T")

#: Short name -> "module:Class". Adding a driver is one line here.
DRIVERS: dict[str, str] = {
    "scpi": "labnode.drivers.scpi:ScpiDriver",
    "dmm34461a": "labnode.drivers.keysight.dmm34461a:Keysight34461A",
    "tpg26x": "labnode.drivers.pfeiffer.tpg26x:TPG26x",
    "alicat": "labnode.drivers.alicat.mass_flow:AlicatMassFlow",
    "bronkhorst": "labnode.drivers.bronkhorst.propar:BronkhorstPropar",
    "mks937b": "labnode.drivers.mks.mks937b:MKS937B",
    "omega_iseries": "labnode.drivers.omega.iseries:OmegaISeries",
    "pymeasure": "labnode.drivers.pymeasure.driver:PyMeasureDriver",
}

#: Entry-point group through which other packages register drivers (name = "module:Class").
ENTRY_POINT_GROUP = "labnode.drivers"


def known_drivers() -> dict[str, str]:
    """Return every registered name -> "module:Class", built-in and from installed packages."""
    from importlib.metadata import entry_points

    found = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **DRIVERS}


def register_driver(name: str, path: str) -> None:
    """Register a driver under a short name at run time ("module:Class")."""
    if ":" not in path:
        raise ValueError(f"driver path must look like 'package.module:Class', got {path!r}")
    DRIVERS[name.lower()] = path


#: A `package.module:Class` path: dotted identifiers, absolute (no leading dot).
_DRIVER_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def resolve_driver(name: str) -> type[Driver]:
    """Return the driver class registered as `name`, or found at `package.module:Class`.

    Raises UnknownDriverError (one line) for an unknown name, a malformed path, or a module
    that cannot be imported, whatever the import raised.
    """
    known = known_drivers()
    if not isinstance(name, str):
        raise UnknownDriverError(
            f"a driver type must be a string such as 'scpi' or 'package.module:Class', got {name!r}"
        )
    if ":" not in name:
        path = known.get(name.strip().lower())
        if path is None:
            raise UnknownDriverError(
                f"no driver named {name!r}; known drivers: {', '.join(sorted(known))} "
                "(or give a 'package.module:Class' path)"
            )
    else:
        path = name.strip()
    return _load(name, path)


def _load(name: str, path: str) -> type[Driver]:
    from labnode.drivers.base import Driver

    if not _DRIVER_PATH.fullmatch(path):
        raise UnknownDriverError(
            f"driver {name!r}: a driver path must look like 'package.module:Class' "
            "(absolute, no leading dot), e.g. 'labnode.drivers.scpi:ScpiDriver'"
        )
    try:
        return load_class(path, Driver)
    except LookupError as error:
        raise UnknownDriverError(f"driver {name!r}: {error}") from error.__cause__


def load_class(path: str, base: type[T]) -> type[T]:
    """The subclass of `base` at "package.module:Class" (pkgutil.resolve_name).

    Raises LookupError with a one-line reason: the module cannot be imported (whatever its
    import raised), or it has no such subclass of `base`.
    """
    module_name, _, class_name = path.partition(":")
    try:
        found = pkgutil.resolve_name(path)
    except AttributeError as error:
        if module_name in sys.modules:  # imported, but no such attribute
            found = None
        else:  # the module's own import raised AttributeError
            raise _cannot_import(module_name, error) from error
    except Exception as error:  # ImportError, or whatever the module raised while importing
        raise _cannot_import(module_name, error) from error
    if not (isinstance(found, type) and issubclass(found, base)):
        raise LookupError(f"{module_name!r} has no {base.__name__} subclass named {class_name!r}")
    return found


def _cannot_import(module_name: str, error: Exception) -> LookupError:
    return LookupError(f"cannot import {module_name!r}: {type(error).__name__}: {error}")


def check_keywords(driver_class: type, options: Mapping[str, Any]) -> None:
    """Raise DriverConfigError naming a keyword `driver_class(resource, **options)` cannot take.

    From the constructor's signature (inspect.signature), before constructing: a required
    keyword missing from `options`, or (for constructors without **settings) one it does not
    take. Keywords that reach **settings are checked by the Driver base, with the transport's.
    """
    signature = inspect.signature(driver_class)
    parameters = list(signature.parameters.values())[1:]  # after the resource
    named = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for name, parameter in named.items():
        if parameter.default is parameter.empty and name not in options:
            raise DriverConfigError(
                f"missing; {driver_class.__name__} needs {name} (a key, or a [driver.{name}] "
                "table)",
                setting=name,
                driver=driver_class.__name__,
            )
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return
    for name in options:
        if name not in named:
            raise DriverConfigError(
                f"not a keyword of this driver; it takes "
                f"{driver_class.__name__}{inspect.signature(driver_class.__init__)}",
                setting=name,
                driver=driver_class.__name__,
            )


def list_drivers() -> list[tuple[str, str]]:
    """Return (name, one-line description) for every registered driver, sorted by name."""
    listing = []
    for name, path in sorted(known_drivers().items()):
        try:
            doc = (_load(name, path).__doc__ or "").strip()
            description = doc.splitlines()[0] if doc else path
        except UnknownDriverError as error:
            description = f"(unavailable: {error})"
        listing.append((name, description))
    return listing


def simulation_yaml(name: str) -> Path:
    """Return the pyvisa-sim YAML shipped beside a driver (`visa_library=f"{path}@sim"`)."""
    path = known_drivers().get(name.lower(), name)
    module_name = path.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise UnknownDriverError(f"no driver named {name!r}; known: {', '.join(known_drivers())}")
    yaml = Path(spec.origin).with_suffix(".yaml")
    if not yaml.is_file():
        raise UnknownDriverError(f"driver {name!r} ships no pyvisa-sim file (looked for {yaml})")
    return yaml
