"""Commands added by later subsystems register here so ``cli.py`` stays small."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    return None
