"""The base of the app layer's setting errors: each names the key to fix (config files, NodeApp)."""

from __future__ import annotations


class SettingError(Exception):
    """A setting is wrong: ``key`` names it (None: the whole file or object), ``problem`` says
    what to fix. Subclasses add where the setting lives (ConfigError: the file's path)."""

    def __init__(self, key: str | None, problem: str, message: str | None = None) -> None:
        self.key = key
        self.problem = problem
        super().__init__(problem if message is None else message)
