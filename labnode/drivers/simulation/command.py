"""The simulator as a process: serve one model until killed, steered by stdin lines or signals.

Usage::

    python -m labnode.drivers.simulation MODEL [--port P] [--host H] [--pty] [--seed N]

MODEL is a short name (`tpg26x`, `alicat`) or a `package.module:Class` path. The first line
on stdout is what a driver opens: `socket://127.0.0.1:PORT` (TCP, the default; pyvisa-py:
`TCPIP::127.0.0.1::PORT::SOCKET`) or, with `--pty`, a device path like `/dev/pts/7`
(pyvisa-py: `ASRL/dev/pts/7::INSTR`). It then serves until SIGTERM/SIGINT or `quit`.

Control channel, one command per stdin line; each is answered by one stdout line,
`ok <command> ...` or `error <reason>`:

- `silent`: swallow requests, answer nothing; `garbage`: answer junk;
  `answer`: answer normally again (the three are modes: each replaces the others);
- `vanish`: close the port (TCP: connects are refused); `back`: serve again
  (TCP: same port; pty: a fresh pty, whose path may differ: `ok back <path>`);
- `drop` (TCP): close current connections, keep listening;
- `delay <seconds>`: hold each reply back; `status`: print the fault state;
- `quit`: stop and exit 0;
- anything else goes to the model: `tpg26x`: `gauge-status <1|2> <0-6>`;
  `alicat`: `setpoint <value>`, `setpoint-source serial|analog`,
  `status-codes [CODE ...]`.

Signals: SIGUSR1 toggles silence, SIGUSR2 toggles vanish/back. End of stdin is not a
command: the simulator keeps serving.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TextIO

from labnode.drivers.errors import one_line
from labnode.drivers.simulation.catalog import accepts_keyword, model_class, model_names
from labnode.drivers.simulation.pty_server import PtyDeviceServer
from labnode.drivers.simulation.socket_server import SocketDeviceServer

DeviceServer = SocketDeviceServer | PtyDeviceServer


class SimulatorControl:
    """Applies control commands to a running server and its model."""

    def __init__(self, server: DeviceServer, out: TextIO) -> None:
        self.server = server
        self.out = out
        self.stop_requested = threading.Event()
        self._print_lock = threading.Lock()

    def say(self, line: str) -> None:
        """Write one line to stdout and flush it."""
        with self._print_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def execute(self, line: str) -> str:
        """Run one control command; return the reply line."""
        words = line.split()
        if not words:
            return "error empty command"
        command, arguments = words[0].lower(), words[1:]
        model = self.server.model
        try:
            if command == "silent":
                model.silent, model.garbage = True, False
            elif command == "garbage":
                model.silent, model.garbage = False, True
            elif command == "answer":
                model.silent = model.garbage = False
            elif command == "vanish":
                self.server.vanish()
            elif command == "back":
                self.server.come_back()
                return f"ok back {self.server.url}"
            elif command == "drop":
                if not isinstance(self.server, SocketDeviceServer):
                    return "error drop needs a TCP simulator (run without --pty)"
                self.server.drop_connections()
            elif command == "delay":
                model.reply_delay = float(arguments[0])
            elif command == "status":
                return (
                    f"ok status silent={model.silent} garbage={model.garbage} "
                    f"delay={model.reply_delay:g} present={self.server.is_listening} "
                    f"url={self.server.url}"
                )
            elif command == "quit":
                self.stop_requested.set()
            else:
                return "ok " + model.control(command, arguments)
        except (LookupError, ValueError, TypeError) as error:
            return f"error {command}: {error}"
        return f"ok {command}"

    def read_commands(self, source: TextIO) -> None:
        """Execute commands from `source` until it ends."""
        for line in source:
            if line.strip():
                self.say(self.execute(line))

    def toggle_silence(self, *_signal: object) -> None:
        """SIGUSR1: silent <-> answering."""
        self.server.model.silent = not self.server.model.silent

    def toggle_presence(self, *_signal: object) -> None:
        """SIGUSR2: vanish <-> come back."""
        if self.server.is_listening:
            self.server.vanish()
        else:
            self.server.come_back()

    def request_stop(self, *_signal: object) -> None:
        """SIGTERM/SIGINT: stop serving."""
        self.stop_requested.set()


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m labnode.drivers.simulation",
        description="Serve a simulated instrument; the first stdout line is its URL or path.",
        epilog="MODEL is" + __doc__.partition("MODEL is")[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help=f"one of {', '.join(model_names())} or package.module:Class")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    parser.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for the noise (models that take one)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until told to stop; returns the exit status."""
    arguments = parse_arguments(argv)
    if not 0 <= arguments.port <= 65535:
        print(f"error: --port {arguments.port} is not a TCP port (0-65535)", file=sys.stderr)
        return 2
    try:
        cls = model_class(arguments.model)
        options = {}
        if arguments.seed is not None:
            if accepts_keyword(cls, "seed"):
                options["seed"] = arguments.seed
            else:
                print(f"note: {cls.__name__} takes no seed; --seed ignored", file=sys.stderr)
        model = cls(**options)
    except Exception as error:  # an unknown model, a failing import, a model that cannot start
        reason = error if isinstance(error, LookupError) else f"{type(error).__name__}: {error}"
        print(f"error: {one_line(reason)}", file=sys.stderr)
        return 2
    server: DeviceServer
    if arguments.pty:
        server = PtyDeviceServer(model)
    else:
        server = SocketDeviceServer(model, host=arguments.host, port=arguments.port)
    try:
        server.start()
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    control = SimulatorControl(server, sys.stdout)
    signal.signal(signal.SIGUSR1, control.toggle_silence)
    signal.signal(signal.SIGUSR2, control.toggle_presence)
    signal.signal(signal.SIGTERM, control.request_stop)
    signal.signal(signal.SIGINT, control.request_stop)
    control.say(server.url)
    print(f"serving simulated {model.name} on {server.url}; see --help", file=sys.stderr)
    threading.Thread(
        target=control.read_commands, args=(sys.stdin,), name="simulator-control", daemon=True
    ).start()
    try:
        while not control.stop_requested.wait(0.2):
            pass
    finally:
        server.stop()
    return 0
