"""Permission-matrix rules for living documents (huzhu/documents; see tests/matrix_common.py).

The in-scope document is a community-visible SOP of ``world.group`` written by the cast's
group leader; the other community's one belongs to ``world.other_group`` and is written by its
branch head (the outsider). A community document is read by every member of its community
(the whole cast has a role there) and by the district admin of the alliance; group documents
and the 404 for invisible documents are tested in huzhu/documents/tests/test_visibility.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.matrix_common import ALL, BH, EVERYONE, GL, Rule

EDITORS = frozenset({BH, GL})


def _document(world: Any, cast: Any, own: bool, flowchart: bool = False) -> Any:
    from huzhu.documents import actions
    from huzhu.documents.tests.support import png_bytes, upload

    return actions.create_document(
        actor=cast.group_leader if own else cast.outsider,
        community=world.community if own else world.other_community,
        group=world.group if own else world.other_group,
        kind="sop_prevention",
        title="日常防疫 SOP",
        body="1. 每日测温\n2. 公共区域消杀",
        flowchart=upload(png_bytes()) if flowchart else None,
        key=f"matrix-document-{own}-{flowchart}",
    )


def _suggestion(world: Any, cast: Any, own: bool) -> Any:
    from huzhu.documents import actions

    return actions.suggest_change(
        actor=cast.resident if own else cast.outsider,
        document=_document(world, cast, own),
        base_version=1,
        body="1. 每日两次测温\n2. 公共区域消杀",
        reason="测温改为两次",
        key=f"matrix-suggestion-{own}",
    )


def _flowchart_version(world: Any, cast: Any, own: bool) -> Any:
    return _document(world, cast, own, flowchart=True).versions.get()


def _create_body(world: Any, cast: Any, own: bool) -> dict[str, Any]:
    return {
        "community_id": (world.community if own else world.other_community).pk,
        "group_id": (world.group if own else world.other_group).pk,
        "kind": "sop_testing",
        "title": "核酸检测 SOP",
        "body": "按楼层叫号",
        "idempotency_key": "matrix-create",
    }


def _fields(**fields: Any) -> Callable[[Any, Any, bool], dict[str, Any]]:
    return lambda w, c, own: dict(fields)


OBJECTS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "document": lambda w, c, own: _document(w, c, own),
    "document_suggestion": _suggestion,
    "document_flowchart": _flowchart_version,
}

D = "/api/v1/documents/{document_id}"
S = "/api/v1/documents/suggestions/{suggestion_id}"
NEW_TEXT = "1. 每日测温并上报\n2. 公共区域消杀"

API_RULES: dict[str, Rule] = {
    "GET /api/v1/documents": Rule(None, EVERYONE),
    "POST /api/v1/documents": Rule("group", EDITORS, method="POST", data=_create_body),
    f"GET {D}": Rule("document", ALL),
    f"GET {D}/versions": Rule("document", ALL),
    f"POST {D}/versions": Rule(
        "document",
        EDITORS,
        method="POST",
        data=_fields(based_on=1, body=NEW_TEXT, summary="上报", idempotency_key="matrix-v2"),
    ),
    f"GET {D}/diff": Rule("document", ALL),
    f"GET {D}/suggestions": Rule("document", ALL),
    f"POST {D}/suggestions": Rule(
        "document",
        ALL,
        method="POST",
        data=_fields(base_version=1, body=NEW_TEXT, reason="上报", idempotency_key="matrix-s"),
    ),
    f"GET {S}": Rule("document_suggestion", ALL),
    f"POST {S}/accept": Rule(
        "document_suggestion", EDITORS, method="POST", data=_fields(idempotency_key="matrix-a")
    ),
    f"POST {S}/reject": Rule(
        "document_suggestion",
        EDITORS,
        method="POST",
        data=_fields(note="不采纳", idempotency_key="matrix-r"),
    ),
}

PAGE_RULES: dict[str, Rule] = {
    # Public documents are listed without signing in; signed in, one's own documents as well.
    "documents:list": Rule(None, EVERYONE, public=True),
    # Whoever holds "documents.edit" somewhere (the outsider in its own community).
    "documents:create": Rule(None, EDITORS | {"outsider"}),
    "documents:detail": Rule("document", ALL),
    "documents:diff": Rule("document", ALL),
    "documents:edit": Rule("document", EDITORS),
    "documents:suggest": Rule("document", ALL),
    "documents:suggestions": Rule("document", ALL),
    "documents:suggestion": Rule("document_suggestion", ALL),
    "documents:suggestion_decide": Rule(
        "document_suggestion",
        EDITORS,
        method="POST",
        data=_fields(decision="reject", note="不采纳"),
    ),
    "documents:flowchart": Rule("document_flowchart", ALL),
}
