"""Command-line commands of the service: registered by ``spinecare.cli``.

Import nothing heavy at module level: every ``spinecare`` invocation loads this module.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the ``spinecare`` parser."""
