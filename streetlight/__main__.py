"""`python -m streetlight ...` runs the `streetlight` command."""

import sys

from streetlight.cli import main

sys.exit(main())
