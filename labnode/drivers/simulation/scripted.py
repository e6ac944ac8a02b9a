"""A line instrument whose answers come from a function: for transport tests and quick drivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from labnode.drivers.simulation.model import LineDeviceModel

#: answer(command) -> the reply line, None to stay silent, or (delay_seconds, reply line).
Answer = Callable[[str], "str | None | tuple[float, str]"]


def echo(command: str) -> str:
    """Answer every command with itself."""
    return command


class ScriptedLineModel(LineDeviceModel):
    """Answers each request line with `answer(line)`; `commands` records the lines received.

    `ScriptedLineModel({"MEAS:VOLT?": "+1.5E+00"}.get)` is a one-query SCPI instrument;
    `termination` ends requests and replies (default LF). An answer `(delay, reply)` holds that
    one reply back `delay` seconds; others wait `reply_delay`. Faults as every model: `silent`,
    `garbage`, `reply_delay`.
    """

    name: ClassVar[str] = "scripted"

    def __init__(self, answer: Answer = echo, termination: bytes = b"\n") -> None:
        self.read_termination = self.write_termination = termination  # type: ignore[misc]
        super().__init__()
        self.answer = answer
        self.commands: list[str] = []
        self._delay_of_reply: float | None = None

    @property
    def reply_delay(self) -> float:
        """The delay of the reply just given: its own when the answer gave one, else the model's."""
        own = self._delay_of_reply
        return self._reply_delay if own is None else own

    @reply_delay.setter
    def reply_delay(self, seconds: float) -> None:
        self._reply_delay = seconds

    def respond(self, data: bytes) -> bytes:
        """Answer the complete lines in `data` (servers read `reply_delay` right after)."""
        self._delay_of_reply = None
        return super().respond(data)

    def handle_line(self, line: str) -> str | None:
        """Record the line and answer it."""
        self.commands.append(line)
        answer = self.answer(line)
        if isinstance(answer, tuple):
            self._delay_of_reply, answer = answer
        return answer
