"""Every driver in the contract test (test_driver_contract.py): how to simulate it, how to open it.

A new driver joins with one `DriverCase` in CASES: its registered name, a factory of its
simulated instrument (a DeviceModel, usually the one shipped beside the driver) and a factory of
the driver given a resource and a timeout. Serial drivers are opened on `sim://` (in memory);
VISA-only drivers on pyvisa-py's raw socket to a SocketDeviceServer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from labnode.drivers import Driver
from labnode.drivers.alicat.mass_flow import AlicatMassFlow
from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
from labnode.drivers.bronkhorst.propar import BronkhorstPropar
from labnode.drivers.bronkhorst.propar_sim import BronkhorstProparModel
from labnode.drivers.keysight.dmm34461a import Keysight34461A
from labnode.drivers.mks.mks937b import MKS937B
from labnode.drivers.mks.mks937b_sim import MKS937BModel
from labnode.drivers.omega.iseries import OmegaISeries
from labnode.drivers.omega.iseries_sim import OmegaISeriesModel
from labnode.drivers.pfeiffer.tpg26x import TPG26x
from labnode.drivers.pfeiffer.tpg26x_sim import TPG26xModel
from labnode.drivers.pymeasure import PyMeasureDriver
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import DeviceModel, ScriptedLineModel


@dataclass(frozen=True)
class DriverCase:
    """One driver under the contract: `model()` is a fresh simulated instrument,
    `driver(resource, timeout)` an unconnected driver for it."""

    name: str
    model: Callable[[], DeviceModel]
    driver: Callable[[str, float], Driver]
    #: "sim": a MemoryDeviceServer (`sim://`, pyserial); "visa-tcp": a SocketDeviceServer
    #: reached through pyvisa-py (`TCPIP::127.0.0.1::PORT::SOCKET`), for VISA-only drivers.
    port: Literal["sim", "visa-tcp"] = "sim"

    def __str__(self) -> str:
        return self.name


#: A SCPI thermometer for the generic driver (its pyvisa-sim file cannot fall silent or vanish).
THERMOMETER = {"MEAS:TEMP?": "+2.31E+01", "*IDN?": "ACME,THERMO,1,1"}

#: The 34461A's conversation on connect and per reading (its pyvisa-sim file cannot fall silent).
MULTIMETER = {
    "*CLS": None,
    "CONF:VOLT:DC AUTO": None,
    "SYST:ERR?": '+0,"No error"',
    "READ?": "+1.23456789E+00",
    "*IDN?": "Keysight Technologies,34461A,MY00000001,A.03.01",
}

#: PyMeasure's Keithley2000 reading `voltage` (`:READ?`); `*IDN?` for identify().
KEITHLEY_2000 = {":READ?": "+1.23456000E+00", "*IDN?": "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1,A"}


def pymeasure_keithley(resource: str, timeout: float) -> PyMeasureDriver:
    """PyMeasure's Keithley 2000 over a raw socket: PyMeasure's keywords, in its units (ms)."""
    return PyMeasureDriver(
        resource,
        instrument="pymeasure.instruments.keithley.Keithley2000",
        channels={"voltage": "voltage"},
        timeout=timeout * 1000,
        read_termination="\n",
        write_termination="\n",
    )


def serial_case(name: str, model: Callable[..., DeviceModel], driver: type[Driver]) -> DriverCase:
    """A driver shipped with its simulator: the model seeded, the driver with only a timeout."""
    return DriverCase(
        name, lambda: model(seed=1), lambda resource, timeout: driver(resource, timeout=timeout)
    )


CASES: list[DriverCase] = [
    serial_case("tpg26x", TPG26xModel, TPG26x),
    serial_case("alicat", AlicatMassFlowModel, AlicatMassFlow),
    DriverCase(
        "scpi",
        lambda: ScriptedLineModel(THERMOMETER.get),
        lambda resource, timeout: ScpiDriver(
            resource, queries={"temperature": "MEAS:TEMP?"}, timeout=timeout
        ),
    ),
    DriverCase(
        "dmm34461a",
        lambda: ScriptedLineModel(MULTIMETER.get),
        lambda resource, timeout: Keysight34461A(resource, timeout=timeout),
        port="visa-tcp",
    ),
    serial_case("bronkhorst", BronkhorstProparModel, BronkhorstPropar),
    serial_case("mks937b", MKS937BModel, MKS937B),
    serial_case("omega_iseries", OmegaISeriesModel, OmegaISeries),
    DriverCase(  # VISA only (PyMeasure opens VISA resources): pyvisa-py's raw socket
        "pymeasure",
        lambda: ScriptedLineModel(KEITHLEY_2000.get),
        pymeasure_keithley,
        port="visa-tcp",
    ),
]
