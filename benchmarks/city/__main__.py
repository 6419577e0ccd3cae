"""`python -m benchmarks.city`: see `benchmarks.city.cli`."""

import sys

from benchmarks.city.cli import main

sys.exit(main())
