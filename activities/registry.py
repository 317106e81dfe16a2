"""Builds every activity with its injected clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ville.settings import Settings


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Instantiate the activity classes for this process and return their bound activities."""
    return []
