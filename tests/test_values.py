"""labnode.values: the one definition of a port and of a number of seconds."""

import math

import pytest

from labnode.values import check_port, check_seconds, is_finite_number, is_port


@pytest.mark.parametrize("value", [0, 1, 9000, 65535])
def test_ports_from_0_to_65535_are_ports(value):
    assert is_port(value) and check_port(value) == value


@pytest.mark.parametrize("value", [-1, 65536, True, 9000.0, "9000", None])
def test_anything_else_is_refused_naming_the_setting_and_the_rule(value):
    assert not is_port(value)
    with pytest.raises(ValueError) as info:
        check_port(value, "push.port")
    assert (
        str(info.value)
        == f"push.port={value!r}: give a UDP port number from 0 to 65535 (0 = any free)"
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1", 10**400, None])
def test_not_finite_numbers(value):
    assert not is_finite_number(value)


def test_seconds_zero_is_allowed_unless_positive():
    assert check_seconds(0) == 0.0 and isinstance(check_seconds(2), float)
    with pytest.raises(ValueError, match=r"^timeout=0: give a finite number of seconds > 0$"):
        check_seconds(0, "timeout", positive=True)


@pytest.mark.parametrize("value", [-0.5, math.nan, math.inf, 10**400, False])
def test_bad_seconds_give_the_rule(value):
    with pytest.raises(ValueError, match=r"give a finite number of seconds >= 0$"):
        check_seconds(value)


def test_seconds_over_the_maximum_name_it():
    assert check_seconds(86400, maximum=86400) == 86400.0
    with pytest.raises(ValueError, match=r"^interval=86401: at most 86400 seconds$"):
        check_seconds(86401, "interval", maximum=86400)
