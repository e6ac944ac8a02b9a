"""Simulated serial instruments behind real ports, for tests, demos and driver development.

A *device model* (`DeviceModel`, or `LineDeviceModel` for line-based ASCII instruments, or
`ScriptedLineModel(answer)` whose replies come from a function, or `MultiDropModel(devices)`
for several units on one RS-485 line) turns
request bytes into reply bytes and has fault switches: `silent` (answer nothing), `garbage`
(answer junk) and `reply_delay`. A *server* puts a model behind a real port that pyserial and
pyvisa-py open like hardware:

- `SocketDeviceServer(model)`: TCP on 127.0.0.1; `.url` is `socket://127.0.0.1:PORT` (pyserial),
  `.visa_resource` is `TCPIP::127.0.0.1::PORT::SOCKET` (pyvisa-py); `.vanish()` closes
  everything and refuses connects, `.come_back()` listens again on the same port,
  `.drop_connections()` closes the current clients only.
- `PtyDeviceServer(model)`: a pseudo-terminal; `.port` is e.g. `/dev/pts/7`,
  `.visa_resource` is `ASRL/dev/pts/7::INSTR`.
- `MemoryDeviceServer(model)`: in memory, no thread; `.url` is `sim://NAME`, which pyserial
  opens once `labnode.drivers` is imported (fast driver tests). `sim://MODEL` (`sim://alicat`)
  opens a default device of a catalog model, no server needed.

Models with moving values are listed by short name in `catalog.MODEL_PATHS`
(`tpg26x`, `alicat`). `python -m labnode.drivers.simulation --help` serves one as a process.
"""

from labnode.drivers.simulation.catalog import create_model, model_class, model_names
from labnode.drivers.simulation.memory_server import MemoryDeviceServer
from labnode.drivers.simulation.model import DeviceModel, LineDeviceModel
from labnode.drivers.simulation.moving_values import PumpDownPressure, SettlingValue
from labnode.drivers.simulation.multidrop import MultiDropModel
from labnode.drivers.simulation.pty_server import PtyDeviceServer
from labnode.drivers.simulation.scripted import ScriptedLineModel, echo
from labnode.drivers.simulation.socket_server import SocketDeviceServer

__all__ = [
    "DeviceModel",
    "LineDeviceModel",
    "MemoryDeviceServer",
    "MultiDropModel",
    "PtyDeviceServer",
    "PumpDownPressure",
    "ScriptedLineModel",
    "SettlingValue",
    "SocketDeviceServer",
    "create_model",
    "echo",
    "model_class",
    "model_names",
]
