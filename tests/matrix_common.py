"""The vocabulary of the permission matrix (tests/test_permission_matrix.py): the roles of the
cast and one ``Rule`` per route. Apps with many routes keep their rules in their own module
(``tests/matrix_timebank``), merged into the matrix's tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conftest import ROLE_PHONES

ROLES = tuple(ROLE_PHONES)  # includes "outsider"
ALL = frozenset(ROLES) - {"outsider"}
EVERYONE = frozenset(ROLES)


@dataclass(frozen=True)
class Rule:
    obj: str | None  # kind of object the route loads (see OBJECTS); None: no object
    allowed: frozenset[str]  # roles that succeed on the in-scope object
    method: str = "GET"
    data: Callable[[Any, Any, bool], dict[str, Any]] | None = None
    public: bool = False  # works without signing in
    # For routes without an object: roles that succeed (others 403); "outsider" included if it
    # should succeed with its own community.
    other_param: str | None = None  # list page filter taking the other community's id → 404
    json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # The object belongs to the resident of the cast (their own slot, skill …): only they
    # succeed, everybody else gets 404.
    owner_only: bool = False
    multipart: bool = False  # send ``data`` as a multipart form (file uploads)
    # The object hangs in no community (a need type of the platform-wide taxonomy): checked
    # once, like a route without an object — allowed roles succeed, everybody else gets 403.
    unscoped: bool = False


BH = "branch_head"
DA = "district_admin"
BM = "building_manager"
BR = "broker"
FO = "finance_officer"
GL = "group_leader"
GM = "group_member"
MERCHANT = "merchant"
