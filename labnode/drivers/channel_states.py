"""Per-channel instrument states (a gauge off, a reading over range), each change logged once."""

from __future__ import annotations

import logging

OK = "ok"


class ChannelStates:
    """The last state each codename's channel reported: "ok", or the instrument's words.

    A driver notes every channel's state at each reading and leaves the channels that are not
    ok out of `get_values()` (so a node serves OLD_DATA for them); `as_dict()` is what its
    `diagnostics()` reports. A change is logged once: a warning when a channel leaves "ok"
    (or starts in another state), an info line when it is ok again.
    """

    def __init__(self, log: logging.Logger, owner: str, resource: str) -> None:
        self._log = log
        self._owner = owner
        self._resource = resource
        self._states: dict[str, str] = {}

    def note(self, name: str, state: str) -> bool:
        """Record `state` for `name`; return whether it is ok (whether to serve the value)."""
        previous = self._states.get(name)
        self._states[name] = state
        if state != previous and not (previous is None and state == OK):
            if state == OK:
                self._log.info("%s on %s: %s is ok again", self._owner, self._resource, name)
            else:
                self._log.warning(
                    "%s on %s: %s reports %s; it is left out of the readings",
                    self._owner,
                    self._resource,
                    name,
                    state,
                )
        return state == OK

    def as_dict(self) -> dict[str, str]:
        """{codename: state} as of the last reading (a copy, safe from any thread)."""
        return self._states.copy()
