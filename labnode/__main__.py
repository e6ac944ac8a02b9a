"""`python -m labnode` runs the labnode command."""

import sys

from labnode.cli import main

sys.exit(main())
