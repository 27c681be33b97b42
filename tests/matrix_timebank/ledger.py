"""Permission-matrix rules for the time bank's ledger routes (see tests/matrix_common.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import Rule

OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {}
PAGE_RULES: dict[str, Rule] = {}
API_RULES: dict[str, Rule] = {}
