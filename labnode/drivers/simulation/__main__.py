"""Entry point: `python -m labnode.drivers.simulation MODEL [--port P] [--pty]` (see command.py)."""

import sys

from labnode.drivers.simulation.command import main

sys.exit(main())
