"""Random bytes at DataUDPHandler in-process, and at a live node over UDP: always one reply."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from labnode.sockets import DataUDPHandler, PointTable
from labnode.sockets.guard import is_pull_reply

from .conftest import PLAIN_REQUESTS
from .pyexplabsys_reference import reference_reply

TABLE = PointTable(["a", "b_2", "c.3"], timeouts=[1.0, None, 0.0])
TABLE.set_point("b_2", (1.0, 2.0))
HANDLER = DataUDPHandler(TABLE, "fuzz")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_get_a_reply(data):
    reply = HANDLER.reply(data)
    assert isinstance(reply, bytes) and reply
    if data not in PLAIN_REQUESTS and data.count(b"#") != 1:
        assert reply == b"UNKNOWN_COMMMAND"


codename_like = st.sampled_from(["a", "b_2", "c.3", "A", "", "b_2 ", "x"])
form_like = st.sampled_from(["raw", "json", "RAW", "", "xml", "raw#"])


@settings(max_examples=1000, deadline=None)
@given(codename_like, form_like)
def test_single_codename_requests_match_pyexplabsys(codename, form):
    command = f"{codename}#{form}"
    points = dict(zip(TABLE.codenames, TABLE.snapshot()[1]))
    timeouts = dict(zip(TABLE.codenames, TABLE.timeouts))
    # now fixed far in the future: "a" and "c.3" (with timeouts) are old, "b_2" never
    import time

    now = time.time()
    expected = reference_reply(command, list(TABLE.codenames), points, timeouts, "fuzz", now)
    assert HANDLER.reply(command.encode()) == expected.encode()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.binary(max_size=1500).filter(lambda d: not is_pull_reply(d)), min_size=1, max_size=5
    )
)
def test_live_node_answers_every_datagram_that_is_not_a_reply(node_for_fuzz, datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(2)
        for data in datagrams:
            client.sendto(data, ("127.0.0.1", node_for_fuzz.port))
        replies = [client.recv(65536) for _ in datagrams]
    assert all(replies)
    client_check = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with client_check:
        client_check.settimeout(2)
        client_check.sendto(b"codenames_raw", ("127.0.0.1", node_for_fuzz.port))
        assert client_check.recv(100) == b"a,b"
