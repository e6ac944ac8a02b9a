"""Drivers by short name or by module:Class path, the listing, the shipped simulation files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labnode.drivers import (
    Driver,
    DriverConfigError,
    UnknownDriverError,
    list_drivers,
    resolve_driver,
    simulation_yaml,
)
from labnode.drivers.keysight.dmm34461a import Keysight34461A
from labnode.drivers.registry import DRIVERS, check_keywords, load_class, register_driver
from labnode.drivers.scpi import ScpiDriver


def test_by_short_name():
    assert resolve_driver("scpi") is ScpiDriver
    assert resolve_driver("DMM34461A") is Keysight34461A


def test_by_module_and_class():
    assert resolve_driver("labnode.drivers.scpi:ScpiDriver") is ScpiDriver
    assert resolve_driver("tests.drivers.test_driver_base:Echo").__name__ == "Echo"


def test_unknown_name_lists_known_names():
    with pytest.raises(UnknownDriverError) as caught:
        resolve_driver("dmm9999")
    assert isinstance(caught.value, LookupError)
    assert "'dmm9999'" in str(caught.value)
    assert "scpi" in str(caught.value) and "dmm34461a" in str(caught.value)


@pytest.mark.parametrize(
    "path",
    [
        "labnode.drivers.nope:Driver",
        "labnode.drivers.scpi:Nope",
        "labnode.drivers.errors:DriverError",
    ],
)
def test_bad_paths(path):
    with pytest.raises(UnknownDriverError):
        resolve_driver(path)


def test_list_drivers_gives_one_line_descriptions():
    listing = dict(list_drivers())
    assert set(DRIVERS) <= set(listing)
    assert listing["scpi"].startswith("Generic SCPI instrument")
    assert listing["dmm34461a"].startswith("Keysight 34461A")
    assert all("\n" not in description for description in listing.values())


def test_register_driver(monkeypatch):
    monkeypatch.setitem(DRIVERS, "placeholder", "labnode.drivers.scpi:ScpiDriver")
    register_driver("My-SCPI", "labnode.drivers.scpi:ScpiDriver")
    try:
        assert resolve_driver("my-scpi") is ScpiDriver
    finally:
        DRIVERS.pop("my-scpi")
    with pytest.raises(ValueError):
        register_driver("bad", "labnode.drivers.scpi.ScpiDriver")


def test_simulation_files_ship_beside_their_drivers():
    assert simulation_yaml("scpi").name == "scpi.yaml"
    assert simulation_yaml("dmm34461a").parent.name == "keysight"
    assert simulation_yaml("labnode.drivers.scpi:ScpiDriver") == simulation_yaml("scpi")
    with pytest.raises(UnknownDriverError):
        simulation_yaml("nonexistent")


def test_importing_the_registry_imports_no_driver_and_no_pyvisa():
    code = (
        "import sys, labnode.drivers.registry; "
        "print(sorted(m for m in sys.modules if m.startswith(('pyvisa', 'labnode.drivers.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout
    assert "pyvisa" not in loaded and "scpi" not in loaded and "keysight" not in loaded


@pytest.mark.parametrize(
    "path",
    [
        ".scpi:ScpiDriver",
        ":",
        "x:",
        ":ScpiDriver",
        "labnode.drivers.scpi:",
        "labnode..drivers:X",
        "labnode.drivers.scpi:Scpi.Driver",
        "a b:C",
    ],
)
def test_malformed_paths_are_unknown_driver_errors(path):
    with pytest.raises(UnknownDriverError, match="package.module:Class") as caught:
        resolve_driver(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", [5, None, ["scpi"]])
def test_a_driver_type_that_is_not_a_string(name):
    with pytest.raises(UnknownDriverError, match="must be a string"):
        resolve_driver(name)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise RuntimeError('no instrument library\\nsecond line')", "RuntimeError"),
        ("def broken(:\n    pass", "SyntaxError"),
        ("import labnode_no_such_dependency", "ModuleNotFoundError"),
        ("1 / 0", "ZeroDivisionError"),
    ],
)
def test_a_module_whose_import_fails_is_an_unknown_driver_error(
    tmp_path, monkeypatch, source, expected
):
    (tmp_path / "labnode_failing_driver.py").write_text(source + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "labnode_failing_driver", raising=False)
    with pytest.raises(UnknownDriverError) as caught:
        resolve_driver("labnode_failing_driver:Driver")
    message = str(caught.value)
    assert "'labnode_failing_driver'" in message and expected in message
    assert "\n" not in message


def test_listing_survives_a_broken_registered_driver(monkeypatch):
    monkeypatch.setitem(DRIVERS, "broken", ".relative:Nope")
    assert dict(list_drivers())["broken"].startswith("(unavailable:")


class Strict:
    """A driver-like class whose constructor takes no **settings."""

    def __init__(self, resource, *, gain, offset=0.0):
        self.resource = resource


def test_check_keywords_names_a_missing_required_keyword():
    with pytest.raises(DriverConfigError) as caught:
        check_keywords(ScpiDriver, {"setup": ["*CLS"]})
    assert caught.value.setting == "queries"
    assert caught.value.reason == (
        "missing; ScpiDriver needs queries (a key, or a [driver.queries] table)"
    )
    check_keywords(ScpiDriver, {"queries": {"v": "V?"}, "baudrate": 9600})  # settings: later


def test_check_keywords_names_an_unknown_keyword_of_a_strict_constructor():
    with pytest.raises(DriverConfigError) as caught:
        check_keywords(Strict, {"gain": 2, "ofset": 1})
    assert caught.value.setting == "ofset"
    assert caught.value.reason == (
        "not a keyword of this driver; it takes Strict(self, resource, *, gain, offset=0.0)"
    )
    check_keywords(Strict, {"gain": 2, "offset": 1})


def test_load_class_is_shared_by_drivers_and_simulated_models():
    from labnode.drivers.simulation import DeviceModel, model_class

    assert load_class("labnode.drivers.scpi:ScpiDriver", Driver) is ScpiDriver
    with pytest.raises(LookupError, match="has no DeviceModel subclass named 'ScpiDriver'"):
        load_class("labnode.drivers.scpi:ScpiDriver", DeviceModel)
    with pytest.raises(LookupError, match="cannot import 'labnode.nope'"):
        model_class("labnode.nope:Model")
