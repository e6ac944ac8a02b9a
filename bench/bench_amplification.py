"""Amplification of each request form: reply bytes / request bytes, at 10 and 1,000 codenames.

Run from the repository root: ``python bench/bench_amplification.py`` (a second or two).

A node on 127.0.0.1 (port 0) with N codenames named ``channel_0000``... (12 characters), every
point fresh (a current Unix timestamp and a random float of full precision), the name
``labnode date data socket (channel_0000,...)`` and one channel with metadata. Each request form
is sent once over UDP and the reply measured: the UDP payload ratio, and the IPv4 ratio: bytes
of IPv4 packets on a 1500-byte MTU link (the UDP header once, an IPv4 header per fragment; no
Ethernet framing), which is what a reflection attack gains.
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import sys
import time

import harness
from harness import LOOPBACK

MTU = 1500


def ipv4_bytes(payload: int) -> int:
    """Bytes of the IPv4 packets carrying one UDP datagram of ``payload`` bytes (MTU 1500)."""
    fragments = max(1, math.ceil((payload + 8) / (MTU - 20)))
    return payload + 8 + 20 * fragments


FORMS = (
    "raw", "json", "raw_wn", "json_wn", "channel_0003#raw", "channel_0003#json",
    "codenames_raw", "codenames_json", "name", "status", "channels_json", "junk",
)  # fmt: skip


def measure(count: int, seed: int = 1) -> list[dict]:
    """One row per request form for a node with ``count`` codenames."""
    from labnode.sockets import DateDataSocket

    rng = random.Random(seed)
    codenames = [f"channel_{i:04d}" for i in range(count)]
    channels = {"channel_0003": {"unit": "mbar", "description": "chamber pressure"}}
    rows = []
    node = DateDataSocket(
        codenames, port=0, host=LOOPBACK, timeouts=60.0, channels=channels, reply_budget=None
    )
    with node, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        node.set_points_now({c: rng.uniform(-1e3, 1e3) for c in codenames})
        client.settimeout(2.0)
        for form in FORMS:
            request = form.encode()
            client.sendto(request, (LOOPBACK, node.port))
            reply = client.recv(65536)
            rows.append(
                {
                    "codenames": count,
                    "request": form,
                    "request_bytes": len(request),
                    "reply_bytes": len(reply),
                    "payload_ratio": len(reply) / len(request),
                    "wire_ratio": ipv4_bytes(len(reply)) / ipv4_bytes(len(request)),
                    "too_large": reply.startswith(b"REPLY_TOO_LARGE"),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codenames", default="10,1000", help="comma-separated table sizes")
    parser.add_argument("--json-out", help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    rows = []
    for count in (int(c) for c in args.codenames.split(",")):
        rows += measure(count)
    print(f"amplification per request form (measured {time.strftime('%Y-%m-%d')}, loopback)")
    print()
    header = (
        f"{'codenames':>9}  {'request':<18} {'in B':>5} {'out B':>7} {'payload':>8} {'IPv4':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        note = "  (REPLY_TOO_LARGE)" if row["too_large"] else ""
        print(
            f"{row['codenames']:>9}  {row['request']:<18} {row['request_bytes']:>5} "
            f"{row['reply_bytes']:>7} {row['payload_ratio']:>7.1f}x {row['wire_ratio']:>7.1f}x"
            f"{note}"
        )
    harness.write_json(args.json_out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
