"""InstrumentLoop's bounds on what a driver can make it keep: error texts (500 characters),
ignored codenames (100), the identity (200 characters)."""

from __future__ import annotations

from labnode.apps.node_app import MAX_ERROR_TEXT, MAX_IGNORED_CODENAMES, NodeApp
from labnode.drivers import DriverConfigError, ReplyParseError

from .conftest import wait_for
from .test_node_app_edges import GOOD, ScriptedDriver

LONG = "x" * 2000


def _loop(driver):
    return NodeApp(driver, host="127.0.0.1", port=0, interval=0.02).instruments[0]


def test_the_documented_bounds():
    assert (MAX_ERROR_TEXT, MAX_IGNORED_CODENAMES) == (500, 100)


def test_a_long_fault_is_kept_as_its_first_500_characters():
    error = ReplyParseError(LONG)
    loop = _loop(ScriptedDriver(GOOD, error))
    loop._read_once(1.0)  # noqa: SLF001
    loop._read_once(2.0)  # noqa: SLF001
    assert loop.state.last_error == f"ReplyParseError: {error}"[:500]
    assert len(str(error)) > 500


def test_a_long_config_error_and_a_long_exit_are_kept_as_500_characters():
    error = DriverConfigError(LONG, setting="unit_id")

    class Misconfigured(ScriptedDriver):
        def connect(self) -> None:
            raise error

    app = NodeApp(Misconfigured(), host="127.0.0.1", port=0, interval=0.02)
    app.start()
    wait_for(lambda: app.fatal_error is not None)
    app.stop()
    assert app.state.last_error == f"DriverConfigError: {error}"[:500]

    app = NodeApp(ScriptedDriver(GOOD, SystemExit(LONG)), host="127.0.0.1", port=0, interval=0.02)
    app.start()
    wait_for(lambda: app.fatal_error is not None)
    app.stop()
    assert app.state.last_error == f"SystemExit: {LONG}"[:500]


def test_at_most_100_ignored_codenames_are_kept_in_order():
    extra = {f"x{n:03d}": 1.0 for n in range(150)}
    driver = ScriptedDriver({**GOOD, **dict(list(extra.items())[:60])}, {**GOOD, **extra})
    with NodeApp(driver, host="127.0.0.1", port=0, interval=0.02) as app:
        wait_for(lambda: app.state.readings >= 3)
        assert app.state.ignored_codenames == sorted(extra)[:100]


def test_the_identity_is_kept_as_its_first_200_characters():
    class Chatty(ScriptedDriver):
        def identify(self) -> str:
            return LONG

    loop = _loop(Chatty())
    loop._read_once(1.0)  # noqa: SLF001
    assert loop.state.identity == LONG[:200]
