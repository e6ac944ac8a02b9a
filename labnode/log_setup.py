"""How `labnode` commands set up logging: one line per record on stderr, cheap to emit."""

from __future__ import annotations

import logging
import sys
from typing import IO

#: The format of every `labnode` command's log lines.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Log records at ``level`` and above to ``stream`` (stderr) in :data:`LOG_FORMAT`.

    The format names no thread, process or source line, so records do not collect them (the
    switches of the logging HOWTO's "Optimization" section): a node logs every write, and the
    write's round trip is shorter without that work.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no sys._getframe() walk per record (see the HOWTO)
    logging.basicConfig(
        level=level, format=LOG_FORMAT, stream=sys.stderr if stream is None else stream
    )
