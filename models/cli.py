"""`streetlight model ...`: train, score and evaluate failure-prediction models."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(sub: argparse._SubParsersAction, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `model` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
