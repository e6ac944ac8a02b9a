"""A UDP server that answers like PyExpLabSys's DataUDPHandler, as an oracle for labnode's.

Written from the observed behaviour of PyExpLabSys's sockets module (socketserver.UDPServer,
each reply formatted from the table on every request), for tests only.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time

UNKNOWN_COMMAND = "UNKNOWN_COMMMAND"
OLD_DATA = "OLD_DATA"


def reference_reply(command: str, codenames, points, timeouts, name: str, now: float) -> str:
    """The reply PyExpLabSys gives to ``command`` for this table at time ``now``."""

    def old(codename):
        timeout = timeouts.get(codename)
        return timeout is not None and now - points[codename][0] > timeout

    if command.count("#") == 1:
        codename, form = command.split("#")
        if codename not in points:
            return UNKNOWN_COMMAND
        if form == "raw":
            return OLD_DATA if old(codename) else "{},{}".format(*points[codename])
        if form == "json":
            return json.dumps(OLD_DATA if old(codename) else points[codename])
        return UNKNOWN_COMMAND
    if command == "raw":
        return ";".join(OLD_DATA if old(c) else "{},{}".format(*points[c]) for c in codenames)
    if command == "json":
        return json.dumps([OLD_DATA if old(c) else points[c] for c in codenames])
    if command == "raw_wn":
        return ";".join(
            f"{c}:{OLD_DATA}" if old(c) else "{}:{},{}".format(c, *points[c]) for c in codenames
        )
    if command == "json_wn":
        return json.dumps({c: OLD_DATA if old(c) else points[c] for c in codenames})
    if command == "codenames_raw":
        return ",".join(codenames)
    if command == "codenames_json":
        return json.dumps(codenames)
    if command == "name":
        return name
    return UNKNOWN_COMMAND


class ReferenceServer:
    """PyExpLabSys-style server on 127.0.0.1 (port 0) in a thread; for client tests."""

    def __init__(self, codenames, timeouts=None, name="reference"):
        self.codenames = list(codenames)
        self.points = {c: (0.0, 0.0) for c in self.codenames}
        self.timeouts = {c: timeouts for c in self.codenames}
        self.name = name
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                command = self.request[0].decode("ascii")  # non-ASCII: raises, no reply
                reply = reference_reply(
                    command, outer.codenames, outer.points, outer.timeouts, outer.name, time.time()
                )
                self.request[1].sendto(reply.encode("ascii"), self.client_address)

        self.server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set_point_now(self, codename, value):
        self.points[codename] = (time.time(), value)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(1)
