"""FLOW-BUS propar messages in their ASCII form, as the Bronkhorst RS232 manual lays them out.

Source: Bronkhorst, "RS232 interface with FLOW-BUS protocol", document 9.17.027, sections 3.4
(communication messages and commands), 3.4.2 (parameter types), 3.6 (status message) and the
worked examples of 3.10 (`:06030101213E80` sets the setpoint of node 3 to 16000 = 50 %;
`:06030401210120` reads its measure; `:06030468416841` reads a float counter).

A message is `:` + hex bytes (upper case) + CR LF. The first byte counts the bytes after it;
then come the node address and the command: 00 status, 01 write with status reply, 02 write
(the form of a read's answer), 04 read. A parameter is addressed by a process byte (its top bit
chains another process) and a parameter byte `cttnnnnn`: c chains another parameter, tt is the
type (00 char, 20 integer, 40 float or long, 60 string), nnnnn the parameter number (FBnr)
in a request, or a return index that the answer copies. Integers and floats are big-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

START = ":"
STATUS, WRITE_WITH_STATUS, WRITE, READ = 0x00, 0x01, 0x02, 0x04
TYPE_BITS = {"char": 0x00, "int": 0x20, "float": 0x40, "string": 0x60}
VALUE_SIZES = {"char": 1, "int": 2, "float": 4}
RETURN_INDEX = 1  # the index the worked examples of 9.17.027 3.10 put in read requests

#: Status codes of 9.17.027 section 3.6 (byte 4 of a status message).
STATUS_TEXT = {
    0x00: "no error",
    0x01: "process claimed",
    0x02: "command error",
    0x03: "process error",
    0x04: "parameter error",
    0x05: "parameter type error",
    0x06: "parameter value error",
    0x07: "network not active",
    0x08: "time-out start character",
    0x09: "time-out serial line",
    0x0A: "hardware memory error",
    0x0B: "node number error",
    0x0C: "general communication error",
    0x0D: "read only parameter",
    0x0E: "error PC-communication",
    0x0F: "no RS232 connection",
    0x10: "PC out of memory",
    0x11: "write only parameter",
    0x12: "system configuration unknown",
    0x13: "no free node address",
    0x14: "wrong interface type",
    0x15: "error serial port connection",
    0x16: "error opening communication",
    0x17: "communication error",
    0x18: "error interface bus master",
    0x19: "timeout answer",
    0x1A: "no start character",
    0x1B: "error first digit",
    0x1C: "buffer overflow in host",
    0x1D: "buffer overflow",
    0x1E: "no answer found",
    0x1F: "error closing communication",
    0x20: "synchronisation error",
    0x21: "send error",
    0x22: "protocol error",
    0x23: "buffer overflow in module",
}


@dataclass(frozen=True)
class Parameter:
    """One propar parameter: process number, parameter number (FBnr 0-31) and type."""

    name: str
    process: int
    number: int
    kind: str  # "char", "int", "float" or "string"

    @property
    def type_bits(self) -> int:
        return TYPE_BITS[self.kind]


# Process 1 parameters used here (9.17.027 examples 3.10.1-3.10.5).
MEASURE = Parameter("measure", 1, 0, "int")  # 0..32000 = 0..100 % of capacity
SETPOINT = Parameter("setpoint", 1, 1, "int")  # 0..32000 = 0..100 % of capacity
CAPACITY = Parameter("capacity", 1, 13, "float")  # full scale, in the capacity unit
FLUID_NAME = Parameter("fluid name", 1, 17, "string")
CAPACITY_UNIT = Parameter("capacity unit", 1, 31, "string")
FULL_SCALE = 32000


@dataclass(frozen=True)
class Message:
    """A decoded message: node, command and the bytes after them."""

    node: int
    command: int
    payload: bytes


def encode(node: int, command: int, payload: bytes = b"") -> str:
    """The ASCII form of a message, without the CR LF (the transport adds it)."""
    body = bytes([node, command]) + payload
    return START + (bytes([len(body)]) + body).hex().upper()


def decode(line: str) -> Message:
    """Parse `:LLNNCC...` (CR LF already stripped); ValueError says what is wrong."""
    line = line.strip()
    if not line.startswith(START):
        raise ValueError("expected ':' and hex digits")
    digits = line[1:]
    if len(digits) % 2 or len(digits) < 6:
        raise ValueError("expected an even number of hex digits, at least length, node, command")
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        raise ValueError("expected hex digits after ':'") from None
    if data[0] != len(data) - 1:
        raise ValueError(f"length byte says {data[0]} bytes follow, {len(data) - 1} do")
    return Message(data[1], data[2], data[3:])


def read_request(node: int, parameter: Parameter) -> str:
    """Command 04 for one parameter: `:06 NN 04 PP 2I PP TN` (+ `00` for a string)."""
    payload = bytes(
        [
            parameter.process,
            parameter.type_bits | RETURN_INDEX,
            parameter.process,
            parameter.type_bits | parameter.number,
        ]
    )
    if parameter.kind == "string":
        payload += b"\x00"  # length 0: the instrument sends the whole string
    return encode(node, READ, payload)


def write_request(node: int, parameter: Parameter, value: int | float) -> str:
    """Command 01 (write, status wanted) of one numeric parameter."""
    head = bytes([parameter.process, parameter.type_bits | parameter.number])
    return encode(node, WRITE_WITH_STATUS, head + pack_value(parameter.kind, value))


def pack_value(kind: str, value: int | float) -> bytes:
    """Big-endian bytes of a char (0-255), integer (0-65535) or float."""
    if kind == "float":
        return struct.pack(">f", value)
    return int(value).to_bytes(VALUE_SIZES[kind], "big")


def unpack_value(kind: str, data: bytes) -> tuple[int | float | str, int]:
    """(value, bytes used) of a value at the start of `data`; ValueError if too short."""
    if kind == "string":
        if not data:
            raise ValueError("expected a string length")
        length = data[0]
        text = data[1 : 1 + length] if length else data[1:].split(b"\x00", 1)[0]
        if length and len(text) != length:
            raise ValueError(f"string of {length} bytes cut short")
        used = 1 + (length if length else len(text) + 1)
        return text.decode("latin-1").rstrip(" \x00"), used
    size = VALUE_SIZES[kind]
    if len(data) < size:
        raise ValueError(f"expected {size} value bytes, got {len(data)}")
    if kind == "float":
        return struct.unpack(">f", data[:size])[0], size
    return int.from_bytes(data[:size], "big"), size
