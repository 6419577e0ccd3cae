"""`streetlight dimming ...`: profiles, plans and energy from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(sub: argparse._SubParsersAction, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `dimming` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
