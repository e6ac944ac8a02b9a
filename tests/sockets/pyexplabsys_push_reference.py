"""A push server that answers like PyExpLabSys's DataPushSocket, as an oracle and a bench baseline.

Written from the behaviour measured on PyExpLabSys's own socket (PUSH_PROTOCOL.md), not from its
code: socketserver.UDPServer (8192-byte reads), every request decoded as ASCII (no reply if it is
not), every reply encoded as ASCII (no reply if it cannot be). For tests and benchmarks only.
"""

from __future__ import annotations

import json
import queue
import socketserver
import threading
import time

TYPES_TEXT = "dict_keys(['int', 'float', 'str', 'bool'])"


class Refused(Exception):
    """The text after ERROR#."""


def _bool(text):
    if text in ("True", "False"):
        return text == "True"
    raise ValueError(
        f"Cannot translate the string '{text}' to a boolean. Only the strings 'True' or 'False' "
        "are allowed"
    )


CONVERT = {"int": int, "float": float, "str": str, "bool": _bool}


def decode_raw(body):
    out = {}
    for chunk in body.split(";"):
        if chunk.count(":") != 2:
            raise Refused(
                f"The data part '{chunk}' did not match the expected format of 3 parts "
                "divided by ':'"
            )
        key, kind, data = chunk.split(":")
        if kind not in CONVERT:
            raise Refused(f"The data type '{kind}' is unknown. Only {TYPES_TEXT} are allowed")
        try:
            converted = [CONVERT[kind](item) for item in data.split(",")]
        except ValueError as error:
            raise Refused(f"Unable to convert values to '{kind}'. Error is: {error}") from None
        out[key] = converted if len(converted) > 1 else converted[0]
    return out


def decode_json(body):
    try:
        out = json.loads(body)
    except ValueError:
        raise Refused(f"The string '{body}' could not be decoded as JSON") from None
    if type(out) is not dict:
        raise Refused(f"The object '{out}' returned after decoding the JSON string is not a dict")
    return out


def raw_return(value):
    if value is None:
        return "None"
    if isinstance(value, dict):
        chunks = []
        for key, item in value.items():
            if isinstance(item, list):
                kinds = {type(x) for x in item}
                if len(kinds) > 1:
                    raise ValueError("With return format raw, value in list must have same type")
                kind = type(item[0]).__name__ if item else ""
                text = ",".join(str(x) for x in item)
            else:
                kind, text = type(item).__name__, str(item)
            if kind not in ("int", "float", "bool", "str"):
                raise TypeError(
                    "With return format raw, the item type can only be one of 'int', 'float', "
                    f"'bool' and 'str'. Object: '{item}' is of type: {kind}"
                )
            chunks.append(f"{key}:{kind}:{text}")
        return ";".join(chunks)
    if isinstance(value, list):
        if not all(isinstance(row, list) for row in value):
            raise ValueError("With return format raw on a list, the elements themselves be lists")
        kinds = [type(x) for row in value for x in row]
        if kinds.count(kinds[0]) != len(kinds):
            raise ValueError(
                "With return format raw on a list of lists, all values  in list must have same "
                f"type. Types are: {kinds}"
            )
        if kinds[0] not in (int, float, bool, str):
            raise TypeError(
                "With return format raw, the item type can only be one of 'int', 'float', "
                f"'bool' and 'str'. The type is: {kinds[0]}"
            )
        return "{}:{}".format(kinds[0].__name__, "&".join(",".join(map(str, r)) for r in value))
    raise ValueError("Return value must be a dict or list with return format 'raw'")


class ReferencePushServer:
    """A PyExpLabSys-style push server on 127.0.0.1 (a free port) in a thread, while in ``with``."""

    def __init__(self, name="reference push", action="store_last", callback=None, fmt="json"):
        self.name = name
        self.action = action
        self.callback = callback
        self.fmt = fmt
        self.last = None
        self.updated = {}
        self.queue = queue.Queue() if action in ("enqueue", "callback_async") else None
        self.server = None
        self.port = None
        self.thread = None

    def answer(self, request):
        """The reply text PyExpLabSys gives to ``request``."""
        if request == "name":
            return "RET#" + self.name
        if request == "commands":
            return "RET#" + json.dumps(["json_wn#", "raw_wn#", "name", "status", "commands"])
        if request == "status":
            return json.dumps({"system_status": {}, "socket_server_status": {}})
        pieces = request.split("#")
        if len(pieces) != 2 or pieces[0] not in ("json_wn", "raw_wn"):
            return "ERROR#UNKNOWN_COMMMAND"
        try:
            values = (decode_json if pieces[0] == "json_wn" else decode_raw)(pieces[1])
        except Refused as refusal:
            return f"ERROR#{refusal}"
        self.last = (time.time(), values)
        self.updated.update(values)
        if self.queue is not None:
            self.queue.put(values)
        if self.action != "callback_direct":
            return f"ACK#{values}"
        try:
            value = self.callback(values)
            if self.fmt == "json":
                return "RET#" + json.dumps(value)
            if self.fmt == "string":
                return f"RET#{value}"
            try:
                return "RET#" + raw_return(value)
            except Exception as error:
                return f"EXCEP#Raw conversion failed with message:{error}"
        except Exception as error:
            return f"EXCEP#{error}"

    def __enter__(self):
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                request = self.request[0].decode("ascii")  # not ASCII: raises, no reply
                answer = outer.answer(request)
                self.request[1].sendto(answer.encode("ascii"), self.client_address)

        self.server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(2)
