"""Every workflow type the worker runs."""

from __future__ import annotations

from collections.abc import Sequence

WORKFLOWS: Sequence[type] = []
