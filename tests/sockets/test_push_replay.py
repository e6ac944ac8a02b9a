"""Replay every measured PyExpLabSys push request over real UDP in every action and return format.

Where PyExpLabSys answers, labnode's DataPushSocket must answer the same bytes; where it is
silent, labnode answers (tests/sockets/push_cases.py says with what). The reference server
written from the same measurements is held to the table too, since the benchmark races it.
"""

from __future__ import annotations

import socket

import pytest

from labnode.sockets import DataPushSocket

from .push_cases import CASES, LABNODE_INSTEAD_OF_SILENCE, MODES, NON_ASCII_ERROR_PREFIX
from .pyexplabsys_push_reference import ReferencePushServer

NAME = "push replay"


def _identity(values):
    return values


def _socket_for(mode: str) -> DataPushSocket:
    if mode.startswith("direct_"):
        return DataPushSocket(
            NAME,
            port=0,
            action="callback_direct",
            callback=_identity,
            return_format=mode.removeprefix("direct_"),
            host="127.0.0.1",
        )
    callback = _identity if mode == "callback_async" else None
    return DataPushSocket(NAME, port=0, action=mode, callback=callback, host="127.0.0.1")


@pytest.fixture(scope="module")
def push_sockets():
    sockets = {mode: _socket_for(mode) for mode in MODES}
    for push in sockets.values():
        push.start()
    yield sockets
    for push in sockets.values():
        push.stop()


@pytest.fixture(scope="module")
def references():
    servers = {}
    for mode in MODES:
        if mode.startswith("direct_"):
            server = ReferencePushServer(
                NAME, "callback_direct", _identity, mode.removeprefix("direct_")
            )
        else:
            server = ReferencePushServer(NAME, mode, _identity)
        servers[mode] = server.__enter__()
    yield servers
    for server in servers.values():
        server.__exit__(None, None, None)


def _ask(port: int, request: bytes, timeout: float = 2.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(timeout)
        client.sendto(request, ("127.0.0.1", port))
        return client.recvfrom(65536)[0]


def _expected(case, mode: str) -> bytes | None:
    reply = case.reply(mode)
    return None if reply is None else reply.replace(b"<name>", NAME.encode())


ALL = [pytest.param(case, mode, id=f"{case.id}-{mode}") for case in CASES for mode in MODES]


@pytest.mark.parametrize(("case", "mode"), ALL)
def test_labnode_replies_as_measured(push_sockets, case, mode):
    reply = _ask(push_sockets[mode].port, case.request)
    expected = _expected(case, mode)
    if expected is not None:
        assert reply == expected
        return
    better = LABNODE_INSTEAD_OF_SILENCE[case.id][MODES.index(mode)]
    if better == NON_ASCII_ERROR_PREFIX:
        assert reply.startswith(better)
        reply.decode("ascii")  # the error itself is ASCII
    else:
        assert reply == better


@pytest.mark.parametrize(("case", "mode"), ALL)
def test_reference_replies_as_measured(references, case, mode):
    expected = _expected(case, mode)
    server = references[mode]
    if expected is not None:
        assert _ask(server.port, case.request) == expected
        return
    # PyExpLabSys's silence: decoding the request or encoding the reply as ASCII fails
    with pytest.raises(UnicodeError):
        server.answer(case.request.decode("ascii")).encode("ascii")


def test_every_silent_row_has_a_labnode_answer():
    silent = {case.id for case in CASES if None in case.replies}
    assert silent == set(LABNODE_INSTEAD_OF_SILENCE)
