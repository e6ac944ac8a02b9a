"""The `labnode` command: serve, demo, get, watch, set, web, drivers, simulate, log, export."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence

from labnode import __version__
from labnode.apps.config import ConfigError
from labnode.apps.node_view import parse_address, render_table, row_from_point, rows_from_json_wn
from labnode.log_setup import configure_logging
from labnode.values import DEFAULT_PORT, DEFAULT_PUSH_PORT, PORT_RULE, check_seconds, is_port

log = logging.getLogger("labnode")

EXIT_ERROR = 1
EXIT_CONFIG = 2
#: The GIL switch interval for node processes: a CPU-bound driver thread then delays the serving
#: thread by at most 0.5 ms instead of Python's default 5 ms (requests/s x10, readings unchanged).
NODE_SWITCH_INTERVAL = 0.0005


def _install_stop_signals(request_stop) -> None:
    """Make SIGINT and SIGTERM end the node cleanly; a second one ends the process at once."""
    received: list[int] = []

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if received:  # no logging here: another thread may hold the handler's lock
            with contextlib.suppress(OSError):
                os.write(2, f"labnode: got {name} again, exiting now\n".encode())
            os._exit(128 + signum)
        received.append(signum)
        log.info("got %s, stopping (send it again to exit at once)", name)
        request_stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run a node from a config file until SIGINT or SIGTERM."""
    from labnode.apps import NodeSettingError
    from labnode.apps.config import load_config
    from labnode.apps.node_app import DriverExit
    from labnode.apps.node_from_config import build_node_app, driver_config_error
    from labnode.apps.node_push import build_node_push
    from labnode.drivers import DriverConfigError
    from labnode.sockets import BindError, PortInUseError

    config = load_config(args.config)
    app = build_node_app(config)
    push = build_node_push(app, config)
    _install_stop_signals(app.request_stop)
    sys.setswitchinterval(NODE_SWITCH_INTERVAL)

    def ready(app):
        where = f"{app.host or '0.0.0.0'}:{app.socket.port}"
        print(f"labnode: serving {app.socket.name!r} on udp {where}", flush=True)
        if push is not None:
            push.report_in_node_status()
            allowed = ", ".join(str(n) for n in push.socket.allow.networks)
            where = f"{push.socket.host or '0.0.0.0'}:{push.port}"
            print(f"labnode: setpoints on udp {where} from {allowed}", flush=True)

    if push is not None:  # bound before the node starts, so a busy port stops it at once
        try:
            push.start()
        except PortInUseError as error:
            raise ConfigError(config.path, "push.port", str(error)) from None
        except BindError as error:
            raise ConfigError(config.path, "push.host", str(error.strerror or error)) from None
    recorder = _node_recorder(config)
    if recorder is not None:
        recorder.start(lambda: app.socket)  # before the node starts: its first reading counts
    try:
        app.run(ready=ready)
    except DriverConfigError as error:
        loop = app.instrument_of(error)
        entry = config.drivers[app.instruments.index(loop)] if loop and config.drivers else None
        raise driver_config_error(config, error, entry) from None
    except NodeSettingError as error:  # keys of [node], except the [channels.NAME] tables
        key = error.key if error.key.startswith("channels.") else f"node.{error.key}"
        raise ConfigError(config.path, key, str(error)) from None
    except PortInUseError as error:
        raise ConfigError(config.path, "node.port", str(error)) from None
    except BindError as error:
        raise ConfigError(config.path, "node.host", str(error.strerror or error)) from None
    except DriverExit as error:
        print(f"labnode: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if push is not None:
            push.stop()
        if recorder is not None:
            recorder.stop()
    return 0


def _node_recorder(config):
    """The NodeRecorder of a node file's [record] table, or None (see docs/recording.md)."""
    if config.record is None:
        return None
    from labnode.apps.node_record import NodeRecorder
    from labnode.storage import DatabaseURLError, SpoolInUseError

    try:
        return NodeRecorder(config.record, config.interval)
    except DatabaseURLError as error:
        raise ConfigError(config.path, "record.url", str(error)) from None
    except SpoolInUseError as error:
        raise OSError(str(error)) from None


def cmd_demo(args: argparse.Namespace) -> int:
    """Run a node on a simulated Pfeiffer TPG 262 gauge, with pressures that pump down."""
    from labnode.sockets import PortInUseError

    try:
        _run_demo(args)
    except PortInUseError as error:
        raise PortInUseError(
            f"{error}; for the demo pass --port, e.g. --port 9001", host=error.host, port=error.port
        ) from None
    return 0


def _run_demo(args: argparse.Namespace) -> None:
    from labnode.apps.node_app import NodeApp
    from labnode.drivers.pfeiffer.tpg26x import TPG26x
    from labnode.drivers.simulation import SocketDeviceServer, create_model

    with SocketDeviceServer(create_model("tpg26x")) as simulator:
        app = NodeApp(
            TPG26x(simulator.url),
            interval=args.interval,
            name="labnode demo: simulated Pfeiffer TPG 262",
            host=args.host,
            port=args.port,
        )
        _install_stop_signals(app.request_stop)
        sys.setswitchinterval(NODE_SWITCH_INTERVAL)

        def ready(app):
            host = args.host or "0.0.0.0"
            ask = "127.0.0.1" if host in ("0.0.0.0", "") else host
            port = app.socket.port
            address = f"[{ask}]:{port}" if ":" in ask else f"{ask}:{port}"
            print(
                f"labnode demo: a simulated Pfeiffer TPG 262 gauge ({simulator.url}) served on "
                f"udp {host}:{port}\n"
                f"  codenames: {', '.join(app.codenames or [])}\n"
                "Ask it from another terminal:\n"
                f"  labnode get {address}\n"
                f"  labnode watch {address}\n"
                f'  python -c "from labnode.sockets import DateDataClient; '
                f"print(DateDataClient('{ask}', {port}).get_all())\"\n"
                "Stop with Ctrl-C.",
                flush=True,
            )

        app.run(ready=ready)


def _client(address: str, timeout: float):
    """A client for ``HOST[:PORT]``; a malformed address is refused before anything is sent."""
    from labnode.sockets import DateDataClient

    host, port = parse_address(address)
    return DateDataClient(host, port, timeout=timeout, old_data="none")


def _wants_units(request: str) -> bool:
    """True for the requests `get` shows as a table of points (with units)."""
    single = request.count("#") == 1 and request.endswith(("#json", "#raw"))
    return single or request in ("json_wn", "raw_wn")


def _format_reply(request: str, reply: bytes, channels=None, node: str | None = None) -> str:
    """A readable rendering of the reply to `request`; everything from the node is escaped.

    The reply is parsed by labnode.sockets.pull_replies (a malformed one raises a NodeError).
    """
    from labnode.apps.node_view import render_channels, rows_from_table
    from labnode.sockets.pull_replies import escape, parse_reply

    now = time.time()
    if request == "json_wn":
        return render_table(rows_from_json_wn(reply, now, channels, node))
    value = parse_reply(request, reply, node)
    if request == "raw_wn":
        return render_table(rows_from_table(value, now, channels))
    if _wants_units(request):
        codename = request.split("#")[0]
        unit = (channels[codename].unit or "") if channels and codename in channels else ""
        return render_table([row_from_point(codename, value, now, unit)])
    if request in ("json", "raw"):
        return render_table([row_from_point(f"[{i}]", p, now) for i, p in enumerate(value)])
    if request == "status":
        return json.dumps(value, indent=2)  # ASCII: json.dumps escapes every control character
    if request == "channels_json":
        return render_channels(value)
    if request in ("codenames_json", "codenames_raw"):
        return "\n".join(value)  # codenames obey the codename rule: printable ASCII
    return escape(value)


def cmd_get(args: argparse.Namespace) -> int:
    """Ask a node once and print its reply (units from channels_json when the node has it)."""
    from labnode.sockets import SocketError
    from labnode.sockets.pull_replies import check_reply, escape

    with _client(args.address, args.timeout) as client:
        reply = check_reply(client.request_bytes(args.request), args.request, client.address)
        channels = {}
        if not args.raw and _wants_units(args.request):
            try:
                channels = client.channels()
            except SocketError:  # no units is no reason to fail the request that worked
                pass
        if args.raw:
            print(escape(reply.decode("utf-8", "backslashreplace")))
        else:
            print(_format_reply(args.request, reply, channels, client.address))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Show one or more nodes' tables, refreshing in place; nodes are polled concurrently."""
    from labnode.apps.node_view import Watch, WatchedNode

    # every address is checked before anything is sent; a typo ends the command at once
    addresses = [parse_address(address) for address in args.addresses]
    in_place = sys.stdout.isatty()
    shown = 0
    with Watch([WatchedNode(host, port, args.timeout) for host, port in addresses]) as watch:
        try:
            while args.count is None or shown < args.count:
                blocks = [time.strftime("labnode watch  %Y-%m-%d %H:%M:%S"), *watch.refresh()]
                text = "\n\n".join(blocks)
                print(("\x1b[H\x1b[J" + text) if in_place else text + "\n", flush=True)
                shown += 1
                if args.count is None or shown < args.count:
                    time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
    return 0


def _assignment(text: str) -> tuple[str, float | int | bool | str]:
    """An argparse type: NAME=VALUE; a JSON number, true/false or "string", else the text."""
    name, equals, value_text = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=VALUE, e.g. volt=2.5")
    try:
        value = json.loads(value_text)
    except ValueError:
        value = value_text
    if value is None or not isinstance(value, (bool, int, float, str)):
        value = value_text  # null, lists and objects are sent as the text typed
    return name.strip(), value


def cmd_set(args: argparse.Namespace) -> int:
    """Write values to a push socket; one line out, exit 0 when applied, 1 when refused."""
    from labnode.sockets import DataPushClient, WriteRefusedError

    values = dict(args.assignments)
    if len(values) < len(args.assignments):
        names = [name for name, _ in args.assignments]
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"{', '.join(twice)} given more than once; give each name once")
    host, port = parse_address(args.address, default_port=DEFAULT_PUSH_PORT)
    shown = " ".join(f"{name}={value!r}" for name, value in values.items())
    with DataPushClient(host, port, timeout=args.timeout) as client:
        try:
            reply = client.write(values)
        except WriteRefusedError as refusal:
            print(
                f"labnode: refused by {client.address}: {shown}: {refusal.reply}", file=sys.stderr
            )
            return EXIT_ERROR
    print(f"{client.address}: applied {shown} ({reply})")
    return 0


def _web_host(text: str) -> str:
    """An argparse type: an IP address to bind (or localhost); never a name to look up."""
    import ipaddress

    if text == "localhost":
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give an IP address, e.g. 127.0.0.1") from None


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the dashboard of a lab file's nodes until SIGINT or SIGTERM."""
    from labnode.apps.lab_config import load_lab

    lab = load_lab(args.lab)
    try:
        from labnode.apps.web.from_lab import serve_lab
    except ImportError as error:
        raise OSError(f"labnode web needs {error.name}: pip install 'labnode[web]'") from None
    return serve_lab(lab, host=args.host, port=args.port)


def cmd_drivers(args: argparse.Namespace) -> int:
    """List the registered drivers."""
    from labnode.drivers.registry import list_drivers

    entries = list_drivers()
    width = max(len(name) for name, _ in entries)
    for name, description in entries:
        print(f"{name:<{width}}  {description}")
    print('\nUse a name as [driver] type = "...", or your own class as "package.module:Class".')
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """Record every node of a lab file into its database until SIGINT or SIGTERM."""
    from labnode.apps.lab_config import load_lab
    from labnode.apps.lab_logger import LabLogger, render_health, status_path
    from labnode.storage import DatabaseURLError, SpoolInUseError

    lab = load_lab(args.lab)
    if args.status:
        try:
            print(render_health(json.loads(status_path(lab).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:
            raise OSError(f"no status from a running `labnode log {args.lab}`: {error}") from None
        return 0
    if not lab.nodes:
        raise ConfigError(
            lab.path, "nodes", 'no [[nodes]] to record; add one: address = "HOST:PORT"'
        )
    try:
        logger = LabLogger(lab, report_interval=args.report_interval, out=sys.stdout)
    except DatabaseURLError as error:
        raise ConfigError(lab.path, "database.url", str(error)) from None
    except SpoolInUseError as error:
        raise OSError(str(error)) from None
    _install_stop_signals(logger.request_stop)
    sys.setswitchinterval(NODE_SWITCH_INTERVAL)  # replies are read soon after the writer runs
    logger.run()
    return 0


def _time(text: str) -> float:
    """An argparse type: Unix seconds, or ISO 8601 (local time unless it has an offset or Z)."""
    import datetime

    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give Unix seconds or ISO 8601, e.g. 2026-11-26T10:00:00+00:00"
        ) from None


def cmd_export(args: argparse.Namespace) -> int:
    """Write recorded points as CSV to stdout."""
    from sqlalchemy.exc import SQLAlchemyError

    from labnode.storage import StorageError, iter_export_rows, open_reader, write_csv

    try:
        with open_reader(args.url, args.table_prefix) as database:
            rows = iter_export_rows(database, args.node, args.codename, args.since, args.until)
            write_csv(rows, sys.stdout)
    except (StorageError, SQLAlchemyError) as error:
        print(f"labnode: error: {' '.join(str(error).split())[:300]}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _seconds(text: str, positive: bool = False, maximum: float = math.inf) -> float:
    """An argparse type: a finite number of seconds >= 0 (see labnode.values.check_seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    try:
        return check_seconds(value, positive=positive, maximum=maximum)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def _interval(text: str) -> float:
    """An argparse type: seconds between readings, 0 to a day."""
    from labnode.apps.node_app import MAX_INTERVAL

    return _seconds(text, maximum=MAX_INTERVAL)


def _positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    return _seconds(text, positive=True)


def _port(text: str) -> int:
    """An argparse type: a UDP port number, 0 to 65535."""
    if not (text.isdigit() and is_port(int(text))):
        raise argparse.ArgumentTypeError(f"{text!r}: {PORT_RULE}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the labnode command."""
    parser = argparse.ArgumentParser(
        prog="labnode",
        description="Turn lab instruments into UDP network nodes (PyExpLabSys date-data protocol).",
    )
    parser.add_argument(
        "--version", action="version", version=f"labnode {__version__}", help="print the version"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log to stderr (default INFO)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run a node from a TOML config file")
    serve.add_argument("config", help="the node's config file, e.g. gauge.toml")
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="run a node on a simulated gauge (no hardware)")
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)",
    )
    demo.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"UDP port (default {DEFAULT_PORT})"
    )
    demo.add_argument("--interval", type=_interval, default=0.5, help="seconds between readings")
    demo.set_defaults(func=cmd_demo)

    get = commands.add_parser("get", help="ask a node once and print a table")
    get.add_argument("address", metavar="HOST[:PORT]", help="the node, e.g. 127.0.0.1:9000")
    get.add_argument(
        "request",
        nargs="?",
        default="json_wn",
        help="what to ask: json_wn (default), raw, NAME#json, status, ...",
    )
    get.add_argument("--raw", action="store_true", help="print the reply as received")
    get.add_argument(
        "--timeout", type=_positive_seconds, default=2.0, help="seconds to wait (default 2)"
    )
    get.set_defaults(func=cmd_get)

    watch = commands.add_parser("watch", help="a live view of one or more nodes")
    watch.add_argument("addresses", nargs="+", metavar="HOST[:PORT]")
    watch.add_argument("--interval", type=_seconds, default=1.0, help="seconds between refreshes")
    watch.add_argument("--count", type=int, default=None, help="stop after this many refreshes")
    watch.add_argument(
        "--timeout", type=_positive_seconds, default=1.0, help="seconds to wait per node"
    )
    watch.set_defaults(func=cmd_watch)

    set_ = commands.add_parser("set", help="write values to a node's push socket (setpoints)")
    set_.add_argument(
        "address", metavar="HOST[:PORT]", help="the push socket, e.g. 127.0.0.1:8500 (default port)"
    )
    set_.add_argument(
        "assignments",
        nargs="+",
        type=_assignment,
        metavar="NAME=VALUE",
        help='values: numbers (2.5, 3), true/false, or text ("3" for the text 3)',
    )
    set_.add_argument(
        "--timeout", type=_positive_seconds, default=2.0, help="seconds to wait (default 2)"
    )
    set_.set_defaults(func=cmd_set)

    web = commands.add_parser("web", help="a live dashboard with history plots of a lab's nodes")
    web.add_argument("lab", help="the lab file ([[nodes]], [database], [web]), e.g. lab.toml")
    web.add_argument(
        "--host", type=_web_host, help="address to bind (default: [web] host, else 127.0.0.1)"
    )
    web.add_argument("--port", type=_port, help="TCP port (default: [web] port, else 8080)")
    web.set_defaults(func=cmd_web)

    log_ = commands.add_parser("log", help="record the nodes of a lab file into a database")
    log_.add_argument("lab", help="the lab file, e.g. lab.toml (see docs/recording.md)")
    log_.add_argument("--status", action="store_true", help="print a running logger's health")
    log_.add_argument(
        "--report-interval", type=_positive_seconds, default=10.0, help="seconds between reports"
    )
    log_.set_defaults(func=cmd_log)

    export = commands.add_parser("export", help="write recorded points as CSV to stdout")
    export.add_argument("url", metavar="DATABASE_URL", help="e.g. sqlite:///lab.db")
    export.add_argument("--node", help="only this node")
    export.add_argument("--codename", help="only this codename")
    export.add_argument("--since", type=_time, help="from this time (Unix seconds or ISO 8601)")
    export.add_argument("--until", type=_time, help="up to this time (inclusive)")
    export.add_argument("--table-prefix", default="labnode_", help="as in the lab file")
    export.set_defaults(func=cmd_export)

    drivers = commands.add_parser("drivers", help="list the registered drivers")
    drivers.set_defaults(func=cmd_drivers)
    return parser


def _one_line_errors() -> tuple[type[BaseException], ...]:
    """The errors `main` reports as one line. The drivers' count only when the command loaded
    the drivers (a driver error cannot happen otherwise): `get` and `set` do not import them."""
    from labnode.sockets import SocketError

    errors: tuple[type[BaseException], ...] = (SocketError, OSError, ValueError, KeyError)
    drivers = sys.modules.get("labnode.drivers.errors")
    if drivers is not None:
        errors += (drivers.DriverError, drivers.UnknownDriverError)
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `labnode` command; errors are one line and a non-zero exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `labnode get ... | head`
        return 0
    except ConfigError as error:
        print(f"labnode: error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except _one_line_errors() as error:
        print(f"labnode: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
