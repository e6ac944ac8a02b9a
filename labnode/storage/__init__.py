"""The recorder's database layer: schema, batched writes, the spool, queries.

It knows nothing of sockets or drivers: rows are (node, codename, x, y) with y None for a gap.
"""

from labnode._lazy import lazy_exports

#: Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "ChangeFilter": ".criteria",
    "Criteria": ".criteria",
    "Database": ".database",
    "Row": ".database",
    "WriteResult": ".database",
    "open_database": ".database",
    "DatabaseUnavailable": ".errors",
    "DatabaseURLError": ".errors",
    "StorageError": ".errors",
    "ChannelInfo": ".queries",
    "export_points": ".queries",
    "iter_export_rows": ".queries",
    "list_channels": ".queries",
    "open_reader": ".queries",
    "read_points": ".queries",
    "read_points_thinned": ".queries",
    "write_csv": ".queries",
    "NodeCounts": ".recorder",
    "Recorder": ".recorder",
    "DEFAULT_PREFIX": ".schema",
    "Spool": ".spool",
    "SpoolInUseError": ".spool",
    "database_url": ".urls",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
