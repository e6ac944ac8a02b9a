"""Cost of computing one reply of the request mix in-process, no socket: labnode vs the reference.

Run from the repository root: ``python bench/bench_reply_compute.py`` (about 40 s; ``--fast``,
``-o FILE`` and the rest of pyperf's options).

The request mix and 10 codenames of bench/table_servers.py (every point fresh, so no OLD_DATA).
Three pyperf benchmarks, each the time per request over the whole mix:

- ``reply reference``: what the tests' PyExpLabSys-style reference does per request
  (``tests/sockets/pyexplabsys_reference.py``): decode, format the reply from the table with
  ``reference_reply``, encode.
- ``reply labnode cached``: ``DateDataSocket.handler.reply`` while its replies are valid.
- ``reply labnode after set_point_now``: a ``set_point_now`` before every request, so the reply
  asked for is rebuilt from a fresh snapshot (the other forms only when asked).

Printed: reference / labnode for both labnode cases (above 1: labnode is cheaper).
"""

from __future__ import annotations

import sys
import time

import harness
from harness import LOOPBACK
from table_servers import CODENAMES, REQUEST_MIX

REQUESTS = [request.encode("ascii") for request in REQUEST_MIX]
_REPLY_FOR: dict = {}


def reply_function(kind: str):
    """The function computing one reply, as ``kind`` does it; made once per worker process."""
    if kind in _REPLY_FOR:
        return _REPLY_FOR[kind]
    if kind == "reference":
        from tests.sockets.pyexplabsys_reference import reference_reply

        points = {name: (time.time() + 3600, 1.5) for name in CODENAMES}
        timeouts = dict.fromkeys(CODENAMES, 0.5)

        def reply(request: bytes) -> bytes:  # the reference handler's work, minus the socket
            command = request.decode("ascii")
            return reference_reply(
                command, CODENAMES, points, timeouts, "bench", time.time()
            ).encode("ascii")

    else:
        from labnode.sockets import DateDataSocket

        node = DateDataSocket(CODENAMES, port=0, timeouts=3600.0, host=LOOPBACK)  # not started
        for codename in CODENAMES:
            node.set_point_now(codename, 1.5)
        reply = node.handler.reply
        if kind == "after-set-point":
            cached_reply, set_point_now = reply, node.set_point_now

            def reply(request: bytes) -> bytes:
                set_point_now("cn00", 1.5)
                return cached_reply(request)

    _REPLY_FOR[kind] = reply
    return reply


def time_mix(loops: int, kind: str) -> float:
    """CPU seconds to compute ``loops`` x the whole mix (pyperf divides by inner_loops)."""
    reply, requests, clock = reply_function(kind), REQUESTS, harness.cpu_clock
    started = clock()
    for _ in range(loops):
        for request in requests:
            reply(request)
    return clock() - started


def main() -> int:
    runner = harness.pyperf_runner(__doc__.splitlines()[0])
    inner = len(REQUESTS)
    reference = runner.bench_time_func("reply reference", time_mix, "reference", inner_loops=inner)
    cached = runner.bench_time_func("reply labnode cached", time_mix, "cached", inner_loops=inner)
    rebuilt = runner.bench_time_func(
        "reply labnode after set_point_now", time_mix, "after-set-point", inner_loops=inner
    )
    harness.pyperf_ratio(runner, "reference / labnode cached", reference, cached)
    harness.pyperf_ratio(runner, "reference / labnode after set_point_now", reference, rebuilt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
