"""A line instrument whose answers come from a function: for transport tests and quick drivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from labnode.drivers.simulation.model import LineDeviceModel

#: answer(command) -> the reply line, or None to stay silent.
Answer = Callable[[str], "str | None"]


def echo(command: str) -> str:
    """Answer every command with itself."""
    return command


class ScriptedLineModel(LineDeviceModel):
    """Answers each request line with `answer(line)`; `commands` records the lines received.

    `ScriptedLineModel({"MEAS:VOLT?": "+1.5E+00"}.get)` is a one-query SCPI instrument;
    `termination` ends requests and replies (default LF). Faults as every model: `silent`,
    `garbage`, `reply_delay`.
    """

    name: ClassVar[str] = "scripted"

    def __init__(self, answer: Answer = echo, termination: bytes = b"\n") -> None:
        self.read_termination = self.write_termination = termination  # type: ignore[misc]
        super().__init__()
        self.answer = answer
        self.commands: list[str] = []

    def handle_line(self, line: str) -> str | None:
        """Record the line and answer it."""
        self.commands.append(line)
        return self.answer(line)
