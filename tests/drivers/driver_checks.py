"""Checks the driver tests share: the serial line a driver opens by default, a setting it
refuses when built, the error one reading raises; and a transport open for a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

from labnode.drivers import Driver, DriverConfigError, Transport

E = TypeVar("E", bound=Exception)
T = TypeVar("T", bound=Transport)


def line_settings(driver: Driver) -> tuple[object, ...]:
    """Baud rate, byte size, parity, stop bits and write termination of a serial driver."""
    options = driver.transport.options
    return (
        driver.settings["baudrate"],
        options["bytesize"],
        options["parity"],
        options["stopbits"],
        driver.transport.write_termination,
    )


def refuses_setting(driver: type[Driver], keyword: str, value: object) -> None:
    """Building ``driver`` with ``keyword=value`` is a DriverConfigError naming ``keyword``."""
    with pytest.raises(DriverConfigError) as caught:
        driver("socket://127.0.0.1:1", **{keyword: value})
    assert caught.value.setting == keyword


def reading_fails(driver: Driver, error: type[E], match: str | None = None) -> E:
    """Connect ``driver`` and read once: the ``error`` (matching ``match``) it raises."""
    with driver, pytest.raises(error, match=match) as caught:
        driver.get_values()
    return caught.value


@contextmanager
def opened(transport: T) -> Iterator[T]:
    """``transport`` open for the block, closed after it whatever happens."""
    transport.open()
    try:
        yield transport
    finally:
        transport.close()
