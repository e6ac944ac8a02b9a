"""Whatever value is set, every reply is answerable and every JSON reply is RFC 8259 JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from labnode.sockets import DateDataSocket, PointTable

from .conftest import udp_request

NON_FINITE = [float("nan"), float("inf"), float("-inf")]
CODENAMES = ["good", "bad", "other"]
JSON_FORMS = [b"json", b"json_wn", b"good#json", b"bad#json", b"codenames_json", b"status"]
JSON_FORMS += [b"channels_json"]
RAW_FORMS = [b"raw", b"raw_wn", b"good#raw", b"bad#raw", b"codenames_raw"]


def _strict_json(data: bytes):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON (RFC 8259)")

    return json.loads(data, parse_constant=refuse)


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["x", "y"])
def test_non_finite_values_are_old_data_in_every_form(value, where):
    with DateDataSocket(CODENAMES, port=0, host="127.0.0.1", timeouts=60.0) as node:
        node.set_point_now("good", 1.5)
        node.set_point_now("other", 2.5)
        node.set_point(
            "bad", (value, 1.0) if where == "x" else (node.table.get_point("good")[0], value)
        )
        node.set_status_provider(lambda: {"last_reading": {"bad": value}})
        replies = {form: udp_request(node.port, form) for form in JSON_FORMS + RAW_FORMS}
    for form in JSON_FORMS:
        _strict_json(replies[form])  # raises on NaN / Infinity
    assert _strict_json(replies[b"json_wn"])["bad"] == "OLD_DATA"
    assert _strict_json(replies[b"json"])[1] == "OLD_DATA"
    assert replies[b"bad#json"] == b'"OLD_DATA"'
    assert replies[b"bad#raw"] == b"OLD_DATA"
    assert replies[b"raw"].split(b";")[1] == b"OLD_DATA"
    assert b"bad:OLD_DATA" in replies[b"raw_wn"].split(b";")
    for form in RAW_FORMS:
        assert b"nan" not in replies[form] and b"inf" not in replies[form]
    status = _strict_json(replies[b"status"])
    bad = status["channels"]["bad"]
    assert bad["old"] is True and bad["non_finite"] is True and bad["age"] is None
    assert status["driver"] == {"last_reading": {"bad": None}}
    assert status["channels"]["good"]["old"] is False


def test_a_non_finite_point_replaced_by_a_finite_one_is_served_again():
    with DateDataSocket(["a"], port=0, host="127.0.0.1") as node:
        node.set_point("a", (1.0, float("nan")))
        assert udp_request(node.port, b"a#raw") == b"OLD_DATA"
        node.set_point("a", (1.0, 2.0))
        assert udp_request(node.port, b"a#raw") == b"1.0,2.0"


@pytest.mark.parametrize("bad", [True, False], ids=["True", "False"])
def test_bools_are_refused(bad):
    table = PointTable(["a"])
    with pytest.raises(TypeError, match="is a bool"):
        table.set_point_now("a", bad)
    with pytest.raises(TypeError, match="is a bool"):
        table.set_point("a", (1.0, bad))
    with pytest.raises(TypeError, match="is a bool"):
        table.set_point("a", (bad, 1.0))
    with pytest.raises(TypeError, match="is a bool"):
        table.set_points_now({"a": bad})
    assert table.get_point("a") == (0.0, 0.0) and table.generation == 0


@pytest.mark.parametrize("big", [10**309, -(10**309), 10**5000], ids=["1e309", "-1e309", "1e5000"])
def test_ints_beyond_float_range_are_refused(big):
    table = PointTable(["a", "b"])
    with pytest.raises(ValueError, match="beyond the range of a float"):
        table.set_point_now("a", big)
    with pytest.raises(ValueError, match="beyond the range of a float"):
        table.set_points_now({"a": 1.0, "b": big})
    with pytest.raises(ValueError, match="beyond the range of a float"):
        table.set_point("a", (big, 1.0))
    assert table.get_point("a") == (0.0, 0.0)  # nothing of a refused batch is stored


def test_large_ints_within_float_range_stay_ints_and_replies_parse():
    with DateDataSocket(["a", "b"], port=0, host="127.0.0.1") as node:
        node.set_point("a", (0, 10**300))
        node.set_point("b", (0, Decimal("1e400")))  # float() makes it inf: OLD_DATA
        assert udp_request(node.port, b"a#raw") == b"0," + str(10**300).encode()
        table = _strict_json(udp_request(node.port, b"json_wn"))
        assert table == {"a": [0, 10**300], "b": "OLD_DATA"}


def test_other_number_types_are_converted():
    table = PointTable(["a"])
    table.set_point("a", (Fraction(1, 2), Decimal("2.5")))
    assert table.get_point("a") == (0.5, 2.5)
    with pytest.raises(ValueError, match="beyond the range"):
        table.set_point_now("a", Fraction(10**400, 1))
