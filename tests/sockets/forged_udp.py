"""Send a UDP datagram with a forged source address on 127.0.0.1 through a raw IPv4 socket.

Needs CAP_NET_RAW (root in the test containers); :func:`raw_socket_or_skip` skips a test with the
reason when the kernel refuses.
"""

from __future__ import annotations

import socket
import struct

import pytest


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_packet(source: tuple[str, int], destination: tuple[str, int], payload: bytes) -> bytes:
    """An IPv4 header and a UDP header (both with checksums) followed by ``payload``."""
    src, dst = socket.inet_aton(source[0]), socket.inet_aton(destination[0])
    udp_length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_length)
    header = struct.pack("!HHHH", source[1], destination[1], udp_length, 0)
    udp_sum = _checksum(pseudo + header + payload) or 0xFFFF
    udp = struct.pack("!HHHH", source[1], destination[1], udp_length, udp_sum) + payload
    # version 4, header length 5 words, TOS 0, total length, id, no fragments, TTL 64, UDP
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, 64, socket.IPPROTO_UDP, 0, src, dst
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + udp


def raw_socket_or_skip() -> socket.socket:
    """A raw IPv4 socket with IP_HDRINCL, or skip the test saying why it cannot be had."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError as error:
        pytest.skip(f"forging a source address needs a raw socket (root / CAP_NET_RAW): {error}")
    except OSError as error:
        pytest.skip(f"raw IPv4 sockets are not available here: {error}")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return sock


def send_forged(
    raw: socket.socket, source: tuple[str, int], destination: tuple[str, int], payload: bytes
) -> None:
    """Send ``payload`` to ``destination`` as if it came from ``source`` (loopback only)."""
    assert source[0].startswith("127.") and destination[0].startswith("127."), "loopback only"
    raw.sendto(udp_packet(source, destination, payload), (destination[0], 0))
