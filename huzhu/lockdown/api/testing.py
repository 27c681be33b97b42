"""Mass testing API (核酸检测 and other mass services). Operation ids are explicit
(``huzhu_lockdown_api_<function>``).

Who: "lockdown.run_testing" (the leader and members of the group running the session, the
branch head) creates, opens and closes a session, calls the next batch, checks households in
and marks them absent; "lockdown.view_testing" reads the per-building counts and the follow-up
list; residents of a covered building read an opened session and its calling screen.

Writes take an idempotency key (header ``Idempotency-Key`` or body ``idempotency_key``):
creating a session and calling a batch are idempotent by it (a replay answers 200 with the
same record); open, close, check-in and absent are idempotent by state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from ninja.responses import Status as Reply

from huzhu.accounts import policy
from huzhu.accounts.api.schemas import NO_NUL, PathId
from huzhu.accounts.models import Person
from huzhu.core.api import ERRORS, PageIn, PageMeta, paginate
from huzhu.core.errors import DomainError
from huzhu.lockdown import testing_queries as tq
from huzhu.lockdown.actions import testing as ta
from huzhu.lockdown.actions.testing import MAX_BATCH, RUN_TESTING, VIEW_TESTING
from huzhu.lockdown.api.common import KEY_FIELD, XLSX, Key, KeyIn, _in, actor_of, key_of, router
from huzhu.lockdown.models import (
    QueueEntry,
    TestingBatch,
    TestingKind,
    TestingSession,
    TestingState,
)
from huzhu.orgs.models import Building, Community, Group

# --- schemas ---------------------------------------------------------------------------------


class SessionIn(Schema):
    community_id: int = Field(..., ge=1)
    group_id: int | None = Field(None, ge=1, description="负责小组")
    kind: str = Field(
        TestingKind.NUCLEIC_ACID, max_length=16, description="nucleic_acid / antigen / other"
    )
    title: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    place: str = Field(..., min_length=1, max_length=100, pattern=NO_NUL)
    starts_at: dt.datetime
    batch_size: int = Field(..., ge=1, le=MAX_BATCH, description="每批户数")
    building_ids: list[int] = Field(..., min_length=1, max_length=2000)
    draft: bool = Field(False, description="保存为草稿，稍后开始")
    idempotency_key: Key | None = KEY_FIELD


class SessionOut(Schema):
    id: int
    community_id: int
    group_id: int | None
    kind: str
    title: str
    place: str
    starts_at: dt.datetime
    batch_size: int
    state: str
    state_label: str
    batches_called: int
    building_ids: list[int]


class MyEntryOut(Schema):
    household_id: int
    sequence: int
    batch: int | None
    status: str = Field(..., description="tested / absent / pending")


class SessionDetailOut(SessionOut):
    may_run: bool
    my_household: MyEntryOut | None


class SessionPage(Schema):
    items: list[SessionOut]
    meta: PageMeta


class SessionQuery(PageIn):
    state: str = Field("", max_length=8, description="按状态筛选")


class BatchOut(Schema):
    session_id: int
    number: int
    households: int
    first_sequence: int
    last_sequence: int
    household_ids: list[int]
    created_at: dt.datetime


class CheckInIn(Schema):
    token: str = Field("", max_length=200, pattern=NO_NUL, description="扫描到的住户码")
    household_id: int | None = Field(None, ge=1, description="搜索到的住户（不扫码时）")
    idempotency_key: Key | None = KEY_FIELD


class HouseholdIn(Schema):
    household_id: int = Field(..., ge=1)
    idempotency_key: Key | None = KEY_FIELD


class EntryOut(Schema):
    household_id: int
    building_id: int
    building: str
    room: str
    floor: int | None
    sequence: int
    batch: int | None
    status: str = Field(..., description="tested / absent / pending")
    called_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    absent_at: dt.datetime | None


class EntryPage(Schema):
    items: list[EntryOut]
    meta: PageMeta


class SearchQuery(Schema):
    q: str = Field(..., min_length=1, max_length=40, pattern=NO_NUL, description="楼栋和房号")


class FollowUpQuery(PageIn):
    building_id: int | None = Field(None, ge=1)


class BuildingCountOut(Schema):
    building_id: int
    name: str
    total: int
    tested: int
    pending: int
    absent: int


class CountsOut(Schema):
    buildings: list[BuildingCountOut]
    total: int
    tested: int
    pending: int
    absent: int


class ScreenOut(Schema):
    session: int
    title: str
    place: str
    kind: str
    state: str
    state_label: str
    batch: int
    first: int = Field(..., description="本批第一个叫号顺序")
    last: int = Field(..., description="本批最后一个叫号顺序")
    called_at: str | None
    households: list[str]
    waiting: int
    total: int
    tested: int
    pending: int
    absent: int


# --- fetching and output ---------------------------------------------------------------------


def _session(actor: Person, pk: int) -> TestingSession:
    s = get_object_or_404(TestingSession.objects.select_related("community", "group"), pk=pk)
    if not tq.may_view(actor, s):
        policy.require(actor, VIEW_TESTING, s)
    return s


def _staff_session(actor: Person, pk: int) -> TestingSession:
    s = get_object_or_404(TestingSession.objects.select_related("community", "group"), pk=pk)
    if not policy.can(actor, RUN_TESTING, s):
        policy.require(actor, VIEW_TESTING, s)
    return s


def _fields(s: TestingSession) -> dict[str, Any]:
    return {
        "id": s.pk,
        "community_id": s.community_id,
        "group_id": s.group_id,
        "kind": s.kind,
        "title": s.title,
        "place": s.place,
        "starts_at": s.starts_at,
        "batch_size": s.batch_size,
        "state": s.state,
        "state_label": str(TestingState(s.state).label),
        "batches_called": s.batches_called,
        "building_ids": sorted(b.pk for b in s.buildings.all()),
    }


def _detail(actor: Person, s: TestingSession) -> SessionDetailOut:
    mine = (
        QueueEntry.objects.filter(session=s, household_id=actor.household_id).first()
        if actor.household_id
        else None
    )
    return SessionDetailOut(
        **_fields(s),
        may_run=tq.may_run(actor, s),
        my_household=(
            MyEntryOut(
                household_id=mine.household_id,
                sequence=mine.sequence,
                batch=mine.batch,
                status=mine.status,
            )
            if mine
            else None
        ),
    )


def _entry_out(e: QueueEntry) -> EntryOut:
    return EntryOut(
        household_id=e.household_id,
        building_id=e.building_id,
        building=e.building.name,
        room=e.household.room,
        floor=e.household.floor,
        sequence=e.sequence,
        batch=e.batch,
        status=e.status,
        called_at=e.called_at,
        checked_in_at=e.checked_in_at,
        absent_at=e.absent_at,
    )


def _batch_out(b: TestingBatch) -> BatchOut:
    return BatchOut(
        session_id=b.session_id,
        number=b.number,
        households=b.households,
        first_sequence=b.first_sequence,
        last_sequence=b.last_sequence,
        household_ids=list(
            QueueEntry.objects.filter(session_id=b.session_id, batch=b.number)
            .order_by("sequence")
            .values_list("household_id", flat=True)
        ),
        created_at=b.created_at,
    )


# --- sessions --------------------------------------------------------------------------------


@router.get(
    "lockdown/testing-sessions",
    response={200: SessionPage, **ERRORS},
    operation_id="huzhu_lockdown_api_list_testing_sessions",
)
def list_testing_sessions(request: HttpRequest, q: Query[SessionQuery]) -> SessionPage:
    """Sessions I run or may see, and the opened ones covering my building, latest first."""
    actor = actor_of(request)
    qs = tq.visible_sessions(actor)
    if q.state:
        if q.state not in TestingState.values:
            raise DomainError(
                "lockdown.filter.state", _("状态筛选条件无效。"), details={"field": "state"}
            )
        qs = qs.filter(state=q.state)
    rows, meta = paginate(qs.order_by("-starts_at", "-pk").prefetch_related("buildings"), q)
    return SessionPage(items=[SessionOut(**_fields(s)) for s in rows], meta=meta)


@router.post(
    "lockdown/testing-sessions",
    response={200: SessionDetailOut, 201: SessionDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_create_testing_session",
)
def create_testing_session(request: HttpRequest, payload: SessionIn) -> Reply[SessionDetailOut]:
    """Create a session ("lockdown.run_testing" on its group or community) and open it unless
    ``draft``. 201; a replay of the key answers 200 with the same session."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    community = get_object_or_404(Community, pk=payload.community_id)
    replay = TestingSession.objects.filter(created_by=actor, open_key=key).exists()
    buildings = list(Building.objects.filter(pk__in=payload.building_ids))
    if len(buildings) != len(set(payload.building_ids)):
        raise DomainError(
            "lockdown.testing.building_community",
            _("楼栋不属于该社区。"),
            details={"field": "building_ids"},
        )
    s = ta.create_session(
        actor=actor,
        community=community,
        group=_in(Group, payload.group_id, community.pk),
        kind=payload.kind,
        title=payload.title,
        place=payload.place,
        starts_at=payload.starts_at,
        batch_size=payload.batch_size,
        buildings=buildings,
        key=key,
        draft=payload.draft,
    )
    return Reply(200 if replay else 201, _detail(actor, s))


@router.get(
    "lockdown/testing-sessions/{int:session_id}",
    response={200: SessionDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_get_testing_session",
)
def get_testing_session(request: HttpRequest, session_id: PathId) -> SessionDetailOut:
    """A session, and my household's place in it."""
    actor = actor_of(request)
    return _detail(actor, _session(actor, session_id))


@router.post(
    "lockdown/testing-sessions/{int:session_id}/open",
    response={200: SessionDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_open_testing_session",
)
def open_testing_session(
    request: HttpRequest, session_id: PathId, payload: KeyIn
) -> SessionDetailOut:
    """A draft opens: the calling queue is built."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    s = ta.open_session(actor=actor, session=_session(actor, session_id))
    return _detail(actor, s)


@router.post(
    "lockdown/testing-sessions/{int:session_id}/close",
    response={200: SessionDetailOut, **ERRORS},
    operation_id="huzhu_lockdown_api_close_testing_session",
)
def close_testing_session(
    request: HttpRequest, session_id: PathId, payload: KeyIn
) -> SessionDetailOut:
    """End the session; the untested stay on the follow-up list."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    s = ta.close_session(actor=actor, session=_session(actor, session_id))
    return _detail(actor, s)


@router.post(
    "lockdown/testing-sessions/{int:session_id}/call-next",
    response={200: BatchOut, 201: BatchOut, **ERRORS},
    operation_id="huzhu_lockdown_api_call_next_batch",
)
def call_next_batch(request: HttpRequest, session_id: PathId, payload: KeyIn) -> Reply[BatchOut]:
    """Call the next batch down: its households' members are notified. 201; a replay of the
    key answers 200 with the same batch (nobody is notified twice)."""
    actor = actor_of(request)
    key = key_of(request, payload.idempotency_key)
    s = _session(actor, session_id)
    replay = TestingBatch.objects.filter(session=s, key=key).exists()
    batch = ta.call_next_batch(actor=actor, session=s, key=key)
    return Reply(200 if replay else 201, _batch_out(batch))


@router.post(
    "lockdown/testing-sessions/{int:session_id}/check-in",
    response={200: EntryOut, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_check_in",
)
def testing_check_in(request: HttpRequest, session_id: PathId, payload: CheckInIn) -> EntryOut:
    """Check a household in by its scanned household code (``token``) or by ``household_id``."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    s = _session(actor, session_id)
    if payload.token.strip():
        e = ta.check_in_by_code(actor=actor, session=s, token=payload.token)
    elif payload.household_id is not None:
        e = ta.check_in(actor=actor, session=s, household_id=payload.household_id)
    else:
        policy.require(actor, RUN_TESTING, s)
        raise DomainError(
            "lockdown.testing.check_in_target",
            _("请扫描住户码，或先搜索楼栋和房号。"),
            details={"field": "token"},
        )
    return _entry_out(e)


@router.post(
    "lockdown/testing-sessions/{int:session_id}/absent",
    response={200: EntryOut, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_mark_absent",
)
def testing_mark_absent(request: HttpRequest, session_id: PathId, payload: HouseholdIn) -> EntryOut:
    """A called household did not come down."""
    actor = actor_of(request)
    key_of(request, payload.idempotency_key)
    s = _session(actor, session_id)
    return _entry_out(ta.mark_absent(actor=actor, session=s, household_id=payload.household_id))


# --- reads -----------------------------------------------------------------------------------


@router.get(
    "lockdown/testing-sessions/{int:session_id}/counts",
    response={200: CountsOut, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_counts",
)
def testing_counts(request: HttpRequest, session_id: PathId) -> CountsOut:
    """Per covered building: households tested, not yet, absent."""
    actor = actor_of(request)
    counts = tq.building_counts(_staff_session(actor, session_id))
    return CountsOut(
        buildings=[BuildingCountOut(**c.__dict__) for c in counts], **tq.totals(counts)
    )


@router.get(
    "lockdown/testing-sessions/{int:session_id}/search",
    response={200: list[EntryOut], **ERRORS},
    operation_id="huzhu_lockdown_api_testing_search",
)
def testing_search(
    request: HttpRequest, session_id: PathId, q: Query[SearchQuery]
) -> list[EntryOut]:
    """Households of the session for check-in by search: "3号楼 502", "3-502" or "502"
    (at most 20)."""
    actor = actor_of(request)
    s = _staff_session(actor, session_id)
    return [_entry_out(e) for e in tq.search_queue(s, q.q)]


@router.get(
    "lockdown/testing-sessions/{int:session_id}/follow-up",
    response={200: EntryPage, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_follow_up",
)
def testing_follow_up(
    request: HttpRequest, session_id: PathId, q: Query[FollowUpQuery]
) -> EntryPage:
    """The follow-up list: every household not tested, in calling order."""
    actor = actor_of(request)
    s = _staff_session(actor, session_id)
    rows, meta = paginate(tq.follow_up(s, building_id=q.building_id), q)
    return EntryPage(items=[_entry_out(e) for e in rows], meta=meta)


@router.get(
    "lockdown/testing-sessions/{int:session_id}/follow-up.xlsx",
    response={200: None, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_follow_up_xlsx",
    openapi_extra={
        "responses": {
            "200": {
                "description": "xlsx",
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def testing_follow_up_xlsx(request: HttpRequest, session_id: PathId) -> HttpResponse:
    """The follow-up list as .xlsx."""
    actor = actor_of(request)
    s = _staff_session(actor, session_id)
    resp = HttpResponse(tq.follow_up_xlsx(s), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="testing-{s.pk}-follow-up.xlsx"'
    return resp


@router.get(
    "lockdown/testing-sessions/{int:session_id}/screen",
    response={200: ScreenOut, **ERRORS},
    operation_id="huzhu_lockdown_api_testing_screen",
)
def testing_screen(request: HttpRequest, session_id: PathId) -> ScreenOut:
    """What the calling screen shows: the batch being called, its households, the counts."""
    actor = actor_of(request)
    return ScreenOut(**tq.screen_state(_session(actor, session_id)))
