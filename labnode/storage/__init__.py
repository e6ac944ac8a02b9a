"""The recorder's database layer: schema, batched writes, the spool, queries.

It knows nothing of sockets or drivers: rows are (node, codename, x, y) with y None for a gap.
"""

from .criteria import ChangeFilter, Criteria
from .database import Database, Row, WriteResult, open_database
from .errors import DatabaseUnavailable, DatabaseURLError, StorageError
from .queries import (
    ChannelInfo,
    export_points,
    iter_export_rows,
    list_channels,
    open_reader,
    read_points,
    read_points_thinned,
    write_csv,
)
from .recorder import NodeCounts, Recorder
from .schema import DEFAULT_PREFIX
from .spool import Spool, SpoolInUseError
from .urls import database_url

__all__ = [
    "DEFAULT_PREFIX",
    "ChangeFilter",
    "ChannelInfo",
    "Criteria",
    "Database",
    "NodeCounts",
    "Recorder",
    "Spool",
    "SpoolInUseError",
    "Row",
    "WriteResult",
    "export_points",
    "iter_export_rows",
    "list_channels",
    "open_database",
    "open_reader",
    "read_points",
    "read_points_thinned",
    "write_csv",
    "DatabaseURLError",
    "DatabaseUnavailable",
    "StorageError",
    "database_url",
]
