# ruff: noqa: E501  (measured wire strings are kept whole, one per line)
"""Every request -> reply row of PyExpLabSys's DataPushSocket, as measured (PUSH_PROTOCOL.md).

Replies are per mode: the three ACK actions (store_last, enqueue, callback_async) answer alike;
callback_direct answers with the callback's return value (the callback here returns the dict it
gets) in each return format. ``None`` is where PyExpLabSys sends no reply at all; labnode's
better answer for those rows is in ``LABNODE_INSTEAD_OF_SILENCE``. ``<name>`` stands for the
socket's name.
"""

from __future__ import annotations

from typing import NamedTuple

#: The modes of the replay: the three ACK actions and callback_direct in each return format.
MODES = ("store_last", "enqueue", "callback_async", "direct_json", "direct_raw", "direct_string")


class PushCase(NamedTuple):
    """One measured row: the request and the reply in each of MODES (None: no reply)."""

    id: str
    request: bytes
    replies: tuple[bytes | None, ...]

    def reply(self, mode: str) -> bytes | None:
        return self.replies[MODES.index(mode)]


def _all(reply: bytes | None) -> tuple[bytes | None, ...]:
    return (reply,) * len(MODES)


def _acks(ack: bytes | None, json: bytes | None, raw: bytes | None, string: bytes | None):
    return (ack, ack, ack, json, raw, string)


# Replies that the json_wn and the raw_wn form of the same values both get.
#: PyExpLabSys's documented example.
GREETING_REPLIES = _acks(
    b"ACK#{'greeting': 'Live long and prosper', 'number': 47}",
    b'RET#{"greeting": "Live long and prosper", "number": 47}',
    b"RET#greeting:str:Live long and prosper;number:int:47",
    b"RET#{'greeting': 'Live long and prosper', 'number': 47}",
)
#: {"x": NaN}
X_NAN_REPLIES = _acks(b"ACK#{'x': nan}", b'RET#{"x": NaN}', b"RET#x:float:nan", b"RET#{'x': nan}")
#: {"a": 1} then {"a": 2} in one request: the last one wins.
A_IS_2_REPLIES = _acks(b"ACK#{'a': 2}", b'RET#{"a": 2}', b"RET#a:int:2", b"RET#{'a': 2}")

CASES = [
    PushCase("meta/name", b"name", _all(b"RET#<name>")),
    PushCase(
        "meta/commands",
        b"commands",
        _all(b'RET#["json_wn#", "raw_wn#", "name", "status", "commands"]'),
    ),
    PushCase(
        "json_wn/basic",
        b'json_wn#{"greeting": "Live long and prosper", "number": 47}',
        GREETING_REPLIES,
    ),
    PushCase(
        "json_wn/empty-dict",
        b"json_wn#{}",
        _acks(
            b"ACK#{}",
            b"RET#{}",
            b"RET#",
            b"RET#{}",
        ),
    ),
    PushCase(
        "json_wn/types",
        b'json_wn#{"f": 1.5, "b": true, "n": null, "l": [1, 2], "d": {"x": 1}}',
        _acks(
            b"ACK#{'f': 1.5, 'b': True, 'n': None, 'l': [1, 2], 'd': {'x': 1}}",
            b'RET#{"f": 1.5, "b": true, "n": null, "l": [1, 2], "d": {"x": 1}}',
            b"EXCEP#Raw conversion failed with message:With return format raw, the item type can only be one of 'int', 'float', 'bool' and 'str'. Object: 'None' is of type: NoneType",
            b"RET#{'f': 1.5, 'b': True, 'n': None, 'l': [1, 2], 'd': {'x': 1}}",
        ),
    ),
    PushCase(
        "json_wn/NaN",
        b'json_wn#{"x": NaN}',
        X_NAN_REPLIES,
    ),
    PushCase(
        "json_wn/-Infinity",
        b'json_wn#{"x": -Infinity}',
        _acks(
            b"ACK#{'x': -inf}",
            b'RET#{"x": -Infinity}',
            b"RET#x:float:-inf",
            b"RET#{'x': -inf}",
        ),
    ),
    PushCase(
        "json_wn/duplicate-key",
        b'json_wn#{"a": 1, "a": 2}',
        A_IS_2_REPLIES,
    ),
    PushCase(
        "json_wn/trailing-newline",
        b'json_wn#{"a": 1}\n',
        _acks(
            b"ACK#{'a': 1}",
            b'RET#{"a": 1}',
            b"RET#a:int:1",
            b"RET#{'a': 1}",
        ),
    ),
    PushCase(
        "json_wn/bigint",
        b'json_wn#{"big": 123456789012345678901234567890}',
        _acks(
            b"ACK#{'big': 123456789012345678901234567890}",
            b'RET#{"big": 123456789012345678901234567890}',
            b"RET#big:int:123456789012345678901234567890",
            b"RET#{'big': 123456789012345678901234567890}",
        ),
    ),
    PushCase(
        "json_wn/exponent",
        b'json_wn#{"e": 1e-3}',
        _acks(
            b"ACK#{'e': 0.001}",
            b'RET#{"e": 0.001}',
            b"RET#e:float:0.001",
            b"RET#{'e': 0.001}",
        ),
    ),
    PushCase(
        "json_wn/single-quote-in-value",
        b'json_wn#{"q": "it\'s"}',
        _acks(
            b"ACK#{'q': \"it's\"}",
            b'RET#{"q": "it\'s"}',
            b"RET#q:str:it's",
            b"RET#{'q': \"it's\"}",
        ),
    ),
    PushCase(
        "json_wn/u-escape-nonascii",
        b'json_wn#{"t": "\\u00b0C"}',
        _acks(
            None,
            b'RET#{"t": "\\u00b0C"}',
            None,
            None,
        ),
    ),
    PushCase(
        "raw_wn/doc-example",
        b"raw_wn#greeting:str:Live long and prosper;number:int:47",
        GREETING_REPLIES,
    ),
    PushCase(
        "raw_wn/int-list",
        b"raw_wn#numbers:int:47,42",
        _acks(
            b"ACK#{'numbers': [47, 42]}",
            b'RET#{"numbers": [47, 42]}',
            b"RET#numbers:int:47,42",
            b"RET#{'numbers': [47, 42]}",
        ),
    ),
    PushCase(
        "raw_wn/float",
        b"raw_wn#x:float:1.5",
        _acks(
            b"ACK#{'x': 1.5}",
            b'RET#{"x": 1.5}',
            b"RET#x:float:1.5",
            b"RET#{'x': 1.5}",
        ),
    ),
    PushCase(
        "raw_wn/float-from-int-text",
        b"raw_wn#x:float:-2",
        _acks(
            b"ACK#{'x': -2.0}",
            b'RET#{"x": -2.0}',
            b"RET#x:float:-2.0",
            b"RET#{'x': -2.0}",
        ),
    ),
    PushCase(
        "raw_wn/float-exponent",
        b"raw_wn#x:float:1e-3",
        _acks(
            b"ACK#{'x': 0.001}",
            b'RET#{"x": 0.001}',
            b"RET#x:float:0.001",
            b"RET#{'x': 0.001}",
        ),
    ),
    PushCase(
        "raw_wn/float-nan",
        b"raw_wn#x:float:nan",
        X_NAN_REPLIES,
    ),
    PushCase(
        "raw_wn/float-inf",
        b"raw_wn#x:float:inf",
        _acks(
            b"ACK#{'x': inf}",
            b'RET#{"x": Infinity}',
            b"RET#x:float:inf",
            b"RET#{'x': inf}",
        ),
    ),
    PushCase(
        "raw_wn/float-list",
        b"raw_wn#x:float:1,2.5",
        _acks(
            b"ACK#{'x': [1.0, 2.5]}",
            b'RET#{"x": [1.0, 2.5]}',
            b"RET#x:float:1.0,2.5",
            b"RET#{'x': [1.0, 2.5]}",
        ),
    ),
    PushCase(
        "raw_wn/int-whitespace",
        b"raw_wn#x:int: 47 ",
        _acks(
            b"ACK#{'x': 47}",
            b'RET#{"x": 47}',
            b"RET#x:int:47",
            b"RET#{'x': 47}",
        ),
    ),
    PushCase(
        "raw_wn/int-plus-sign",
        b"raw_wn#x:int:+5",
        _acks(
            b"ACK#{'x': 5}",
            b'RET#{"x": 5}',
            b"RET#x:int:5",
            b"RET#{'x': 5}",
        ),
    ),
    PushCase(
        "raw_wn/int-underscore",
        b"raw_wn#x:int:1_000",
        _acks(
            b"ACK#{'x': 1000}",
            b'RET#{"x": 1000}',
            b"RET#x:int:1000",
            b"RET#{'x': 1000}",
        ),
    ),
    PushCase(
        "raw_wn/bool-True",
        b"raw_wn#b:bool:True",
        _acks(
            b"ACK#{'b': True}",
            b'RET#{"b": true}',
            b"RET#b:bool:True",
            b"RET#{'b': True}",
        ),
    ),
    PushCase(
        "raw_wn/bool-list",
        b"raw_wn#b:bool:False,True",
        _acks(
            b"ACK#{'b': [False, True]}",
            b'RET#{"b": [false, true]}',
            b"RET#b:bool:False,True",
            b"RET#{'b': [False, True]}",
        ),
    ),
    PushCase(
        "raw_wn/str-empty",
        b"raw_wn#s:str:",
        _acks(
            b"ACK#{'s': ''}",
            b'RET#{"s": ""}',
            b"RET#s:str:",
            b"RET#{'s': ''}",
        ),
    ),
    PushCase(
        "raw_wn/str-comma-splits",
        b"raw_wn#s:str:a,b",
        _acks(
            b"ACK#{'s': ['a', 'b']}",
            b'RET#{"s": ["a", "b"]}',
            b"RET#s:str:a,b",
            b"RET#{'s': ['a', 'b']}",
        ),
    ),
    PushCase(
        "raw_wn/str-trailing-newline",
        b"raw_wn#s:str:x\n",
        _acks(
            b"ACK#{'s': 'x\\n'}",
            b'RET#{"s": "x\\n"}',
            b"RET#s:str:x\n",
            b"RET#{'s': 'x\\n'}",
        ),
    ),
    PushCase(
        "raw_wn/duplicate-name",
        b"raw_wn#a:int:1;a:int:2",
        A_IS_2_REPLIES,
    ),
    PushCase(
        "raw_wn/empty-name",
        b"raw_wn#:int:1",
        _acks(
            b"ACK#{'': 1}",
            b'RET#{"": 1}',
            b"RET#:int:1",
            b"RET#{'': 1}",
        ),
    ),
    PushCase(
        "raw_wn/space-in-name",
        b"raw_wn#my name:int:1",
        _acks(
            b"ACK#{'my name': 1}",
            b'RET#{"my name": 1}',
            b"RET#my name:int:1",
            b"RET#{'my name': 1}",
        ),
    ),
    PushCase(
        "raw_wn/all-types",
        b"raw_wn#a:int:1;b:float:2.5;c:bool:True;d:str:x",
        _acks(
            b"ACK#{'a': 1, 'b': 2.5, 'c': True, 'd': 'x'}",
            b'RET#{"a": 1, "b": 2.5, "c": true, "d": "x"}',
            b"RET#a:int:1;b:float:2.5;c:bool:True;d:str:x",
            b"RET#{'a': 1, 'b': 2.5, 'c': True, 'd': 'x'}",
        ),
    ),
    PushCase(
        "raw_wn/two-parts",
        b"raw_wn#number:88",
        _all(
            b"ERROR#The data part 'number:88' did not match the expected format of 3 parts divided by ':'"
        ),
    ),
    PushCase(
        "raw_wn/four-parts",
        b"raw_wn#a:str:b:c",
        _all(
            b"ERROR#The data part 'a:str:b:c' did not match the expected format of 3 parts divided by ':'"
        ),
    ),
    PushCase(
        "raw_wn/empty",
        b"raw_wn#",
        _all(b"ERROR#The data part '' did not match the expected format of 3 parts divided by ':'"),
    ),
    PushCase(
        "raw_wn/trailing-semicolon",
        b"raw_wn#a:int:1;",
        _all(b"ERROR#The data part '' did not match the expected format of 3 parts divided by ':'"),
    ),
    PushCase(
        "raw_wn/unknown-type",
        b"raw_wn#number:floats:88",
        _all(
            b"ERROR#The data type 'floats' is unknown. Only dict_keys(['int', 'float', 'str', 'bool']) are allowed"
        ),
    ),
    PushCase(
        "raw_wn/type-case",
        b"raw_wn#x:Int:1",
        _all(
            b"ERROR#The data type 'Int' is unknown. Only dict_keys(['int', 'float', 'str', 'bool']) are allowed"
        ),
    ),
    PushCase(
        "raw_wn/int-from-float-text",
        b"raw_wn#x:int:1.5",
        _all(
            b"ERROR#Unable to convert values to 'int'. Error is: invalid literal for int() with base 10: '1.5'"
        ),
    ),
    PushCase(
        "raw_wn/int-empty",
        b"raw_wn#x:int:",
        _all(
            b"ERROR#Unable to convert values to 'int'. Error is: invalid literal for int() with base 10: ''"
        ),
    ),
    PushCase(
        "raw_wn/float-garbage",
        b"raw_wn#x:float:abc",
        _all(
            b"ERROR#Unable to convert values to 'float'. Error is: could not convert string to float: 'abc'"
        ),
    ),
    PushCase(
        "raw_wn/bool-lowercase",
        b"raw_wn#x:bool:true",
        _all(
            b"ERROR#Unable to convert values to 'bool'. Error is: Cannot translate the string 'true' to a boolean. Only the strings 'True' or 'False' are allowed"
        ),
    ),
    PushCase(
        "raw_wn/bool-1",
        b"raw_wn#x:bool:1",
        _all(
            b"ERROR#Unable to convert values to 'bool'. Error is: Cannot translate the string '1' to a boolean. Only the strings 'True' or 'False' are allowed"
        ),
    ),
    PushCase(
        "json_wn/list",
        b"json_wn#[1, 2]",
        _all(b"ERROR#The object '[1, 2]' returned after decoding the JSON string is not a dict"),
    ),
    PushCase(
        "json_wn/number",
        b"json_wn#47",
        _all(b"ERROR#The object '47' returned after decoding the JSON string is not a dict"),
    ),
    PushCase(
        "json_wn/string",
        b'json_wn#"s"',
        _all(b"ERROR#The object 's' returned after decoding the JSON string is not a dict"),
    ),
    PushCase(
        "json_wn/null",
        b"json_wn#null",
        _all(b"ERROR#The object 'None' returned after decoding the JSON string is not a dict"),
    ),
    PushCase(
        "json_wn/invalid",
        b"json_wn#{bad",
        _all(b"ERROR#The string '{bad' could not be decoded as JSON"),
    ),
    PushCase(
        "json_wn/empty", b"json_wn#", _all(b"ERROR#The string '' could not be decoded as JSON")
    ),
    PushCase(
        "json_wn/python-dict-quotes",
        b"json_wn#{'a': 1}",
        _all(b"ERROR#The string '{'a': 1}' could not be decoded as JSON"),
    ),
    PushCase(
        "json_wn/trailing-NUL",
        b'json_wn#{"a": 1}\x00',
        _all(b"ERROR#The string '{\"a\": 1}\x00' could not be decoded as JSON"),
    ),
    PushCase("unknown/empty-datagram", b"", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/word", b"foo", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/word#data", b"foo#bar", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/NAME-uppercase", b"NAME", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/name-newline", b"name\n", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/name#", b"name#", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/JSON_WN-uppercase", b"JSON_WN#{}", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/leading-space", b" json_wn#{}", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/hash-in-payload", b'json_wn#{"a": "x#y"}', _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/json_wn-without-hash", b"json_wn", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/raw_wn-without-hash", b"raw_wn", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/json#", b'json#{"a": 1}', _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/raw#", b"raw#a:int:1", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/pull-command", b"codenames_json", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("unknown/double-hash", b"##", _all(b"ERROR#UNKNOWN_COMMMAND")),
    PushCase("nonascii/utf8-in-json", b'json_wn#{"t": "\xc2\xb0C"}', _all(None)),
    PushCase("nonascii/latin1-in-raw", b"raw_wn#t:str:\xb0C", _all(None)),
    PushCase("nonascii/lone-0xff", b"\xff", _all(None)),
]

#: Where PyExpLabSys is silent, labnode answers: these replies (prefix for the ERROR# ones).
NON_ASCII_ERROR_PREFIX = b"ERROR#the request is not ASCII"
LABNODE_INSTEAD_OF_SILENCE = {
    "json_wn/u-escape-nonascii": _acks(
        b"ACK#{'t': '\\xb0C'}",
        b'RET#{"t": "\\u00b0C"}',
        b"RET#t:str:\\xb0C",
        b"RET#{'t': '\\xb0C'}",
    ),
    "nonascii/utf8-in-json": _all(NON_ASCII_ERROR_PREFIX),
    "nonascii/latin1-in-raw": _all(NON_ASCII_ERROR_PREFIX),
    "nonascii/lone-0xff": _all(NON_ASCII_ERROR_PREFIX),
}
