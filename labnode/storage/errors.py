"""Errors raised by labnode.storage."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error raised by labnode.storage."""


class DatabaseURLError(StorageError, ValueError):
    """A database URL that labnode cannot use; the message says what would work."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or did not answer now; try again later."""
