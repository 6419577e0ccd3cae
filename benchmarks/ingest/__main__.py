"""``python -m benchmarks.ingest``: see ``--help``."""

import sys

from benchmarks.ingest.cli import main

sys.exit(main())
