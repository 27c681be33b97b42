"""The time bank's permission-matrix rules, merged from one module per area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import Rule
from tests.matrix_timebank import ledger, members, merchants

OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {}
PAGE_RULES: dict[str, Rule] = {}
API_RULES: dict[str, Rule] = {}
for _module in (ledger, merchants, members):
    OBJECTS.update(_module.OBJECTS)
    PAGE_RULES.update(_module.PAGE_RULES)
    API_RULES.update(_module.API_RULES)
