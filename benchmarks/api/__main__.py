"""``python -m benchmarks.api``: see ``--help``."""

import sys

from benchmarks.api.cli import main
from benchmarks.common import BenchmarkError

try:
    sys.exit(main())
except BenchmarkError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
