"""The recorder's database layer: schema, batched writes, the spool, queries.

It knows nothing of sockets or drivers: rows are (node, codename, x, y) with y None for a gap.
"""

from .criteria import ChangeFilter, Criteria
from .errors import DatabaseUnavailable, DatabaseURLError, StorageError
from .urls import database_url

__all__ = [
    "ChangeFilter",
    "Criteria",
    "DatabaseURLError",
    "DatabaseUnavailable",
    "StorageError",
    "database_url",
]
