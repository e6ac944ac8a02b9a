"""set_point from one thread while another reads over UDP: every reply parses and is consistent."""

from __future__ import annotations

import json
import socket
import threading

from labnode.sockets import DateDataSocket

CODENAMES = ["a", "b", "c", "d"]


def test_hammer_set_point_while_reading_over_udp():
    stop = threading.Event()
    written = [0]

    with DateDataSocket(CODENAMES, port=0, host="127.0.0.1") as node:
        node.set_points_now(dict.fromkeys(CODENAMES, 0.0), now=0.0)

        def writer():
            i = 0
            while not stop.is_set() and i < 2_000_000:
                i += 1
                # a's halves agree (y == -x); set_points_now moves b, c, d together
                node.set_point("a", (float(i), -float(i)))
                node.set_points_now({"b": float(i), "c": float(i), "d": float(i)}, now=float(i))
            written[0] = i

        thread = threading.Thread(target=writer)
        thread.start()
        seen = set()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                client.settimeout(2)
                for n in range(3000):
                    command = [b"json_wn", b"raw", b"a#json", b"raw_wn"][n % 4]
                    client.sendto(command, ("127.0.0.1", node.port))
                    reply = client.recv(65536)
                    if command == b"json_wn":
                        table = json.loads(reply)
                        assert list(table) == CODENAMES
                        assert table["a"][0] == -table["a"][1]
                        assert table["b"] == table["c"] == table["d"]
                        assert table["b"][0] == table["b"][1]
                        seen.add(table["b"][0])
                    elif command == b"a#json":
                        x, y = json.loads(reply)
                        assert x == -y
                    else:
                        cells = [c.split(b":")[-1] for c in reply.split(b";")]
                        assert len(cells) == 4
                        points = [tuple(map(float, c.split(b","))) for c in cells]
                        assert points[0][0] == -points[0][1]
                        assert points[1] == points[2] == points[3]
        finally:
            stop.set()
            thread.join(5)
    assert written[0] > 100  # the writer really ran alongside
    assert len(seen) > 10  # and the reader really saw the table move
