"""Input and output schemas of the notify API, the field types they use, and the converters
from models to output schemas (never a phone number)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db.models import Count, Q
from ninja import Field, Schema
from pydantic import field_validator, model_validator

from huzhu.accounts.api.schemas import MAX_ID, NO_NUL, Id, LocalTime, Moment
from huzhu.accounts.models import Role
from huzhu.core.api import PageIn, PageMeta
from huzhu.notify import actions
from huzhu.notify.models import (
    Broadcast,
    BroadcastStatus,
    Preference,
    Receipt,
    ReplyKind,
    Visibility,
)

MAX_LIST = 500
ExternalChannel = Literal["sms", "email", "wecom", "webpush"]
PersonalChannel = Literal["sms", "email", "webpush"]  # WeCom reaches groups, not persons
Choice = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


# --- input schemas ----------------------------------------------------------------------------


class InboxQuery(PageIn):
    unread_only: bool = False


class BroadcastQuery(PageIn):
    community: Id | None = Field(None, description="only this community's broadcasts")
    status: BroadcastStatus | None = None


class RepliesQuery(PageIn):
    only: Literal["all", "replied", "unreplied", "unread"] = "all"


class AudienceIn(Schema):
    """Who receives a broadcast: a community (or, for a district admin, the alliance),
    narrowed by buildings, groups (with their sub-groups), roles, skills and availability."""

    alliance: Id | None = Field(None, description="alliance-wide (district admins)")
    community: Id | None = None
    buildings: list[Id] = Field(default_factory=list, max_length=MAX_LIST)
    groups: list[Id] = Field(default_factory=list, max_length=MAX_LIST)
    roles: list[Role] = Field(default_factory=list, max_length=MAX_LIST)
    skills: list[Id] = Field(default_factory=list, max_length=MAX_LIST)
    weekday: int | None = Field(None, ge=0, le=6, description="0 = Monday; available that day")
    time_from: LocalTime | None = None
    time_to: LocalTime | None = None

    @model_validator(mode="after")
    def _one_root(self) -> AudienceIn:
        if self.alliance is not None and self.community is not None:
            raise ValueError("give either alliance or community, not both")
        return self

    def spec(self) -> dict[str, Any]:
        raw: dict[str, Any] = self.dict()
        for key in ("time_from", "time_to"):
            if raw[key] is not None:
                raw[key] = raw[key].strftime("%H:%M")
        raw["roles"] = [str(r) for r in raw["roles"]]
        return {k: v for k, v in raw.items() if v not in (None, [])}


def _an_object(value: Any) -> Any:
    # ninja's Schema would read the attributes of any value; an audience is a JSON object.
    if not isinstance(value, dict):
        raise ValueError("audience must be an object")
    return value


class BroadcastIn(Schema):
    audience: AudienceIn
    _audience = field_validator("audience", mode="before")(_an_object)
    title: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    body: str = Field(min_length=1, max_length=5000, pattern=NO_NUL)
    visibility: Visibility = Visibility.INTERNAL
    urgent: bool = Field(False, description="urgent messages ignore quiet hours")
    channels: list[ExternalChannel] = Field(default_factory=list, max_length=MAX_LIST)
    reply_kind: ReplyKind = ReplyKind.NONE
    reply_choices: list[Choice] = Field(default_factory=list, max_length=actions.MAX_CHOICES)
    reply_deadline: Moment = Field(None, description="without a time zone: local time")
    scheduled_at: Moment = Field(None, description="without a time zone: local time")


class PreviewIn(Schema):
    audience: AudienceIn
    _audience = field_validator("audience", mode="before")(_an_object)


class ResendIn(Schema):
    which: Literal["unread", "unreplied"] = "unread"


ReplyValue = (
    Annotated[bool, Field(strict=True)]
    | Annotated[int, Field(strict=True, ge=-MAX_ID, le=MAX_ID)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
    | Annotated[str, Field(max_length=500, pattern=NO_NUL)]
)


class ReplyIn(Schema):
    value: ReplyValue = Field(
        description='yes/no ("yes", "no", true, false), a choice, a '
        "number or a text, as the broadcast asks"
    )


class PreferenceIn(Schema):
    channels: list[PersonalChannel] = Field(
        default_factory=list, max_length=3, description="in order of preference"
    )
    email: str = Field("", max_length=254, pattern=NO_NUL)
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None


# --- output schemas ---------------------------------------------------------------------------


class InboxItemOut(Schema):
    kind: Literal["notification", "broadcast"]
    id: int = Field(description="a notification id, or a receipt id for a broadcast")
    title: str
    body: str
    at: dt.datetime
    read: bool
    urgent: bool
    needs_reply: bool
    replied: bool
    link: str


class InboxPage(Schema):
    items: list[InboxItemOut]
    meta: PageMeta


class CountOut(Schema):
    count: int


class NotificationOut(Schema):
    id: int
    code: str
    title: str
    body: str
    link: str
    urgent: bool
    at: dt.datetime
    read_at: dt.datetime | None


class ReceiptOut(Schema):
    id: int
    broadcast_id: int
    title: str
    body: str
    urgent: bool
    author: str
    delivered_at: dt.datetime
    read_at: dt.datetime | None
    reply_kind: ReplyKind
    reply_choices: list[str]
    reply_deadline: dt.datetime | None
    can_reply: bool
    reply: str
    replied_at: dt.datetime | None


class BroadcastOut(Schema):
    id: int
    alliance_id: int
    community_id: int | None
    author_id: int
    author: str
    title: str
    body: str
    visibility: Visibility
    urgent: bool
    audience: dict[str, Any]
    audience_label: str
    channels: list[str]
    reply_kind: ReplyKind
    reply_choices: list[str]
    reply_deadline: dt.datetime | None
    scheduled_at: dt.datetime | None
    status: BroadcastStatus
    created_at: dt.datetime
    sent_at: dt.datetime | None
    recipient_count: int
    delivered: int
    read: int
    replied: int


class BroadcastPage(Schema):
    items: list[BroadcastOut]
    meta: PageMeta


class TotalsOut(Schema):
    delivered: int
    read: int
    replied: int


class BuildingTallyOut(TotalsOut):
    building_id: int | None
    name: str


class GroupTallyOut(TotalsOut):
    group_id: int
    name: str


class ReplyCountOut(Schema):
    value: str
    count: int


class BroadcastDetailOut(BroadcastOut):
    by_building: list[BuildingTallyOut]
    by_group: list[GroupTallyOut]
    replies: list[ReplyCountOut]


class PreviewOut(Schema):
    count: int
    label: str


class ReplyRowOut(Schema):
    receipt_id: int
    person_id: int
    name: str
    building: str
    read_at: dt.datetime | None
    reply: str
    replied_at: dt.datetime | None


class ReplyPage(Schema):
    items: list[ReplyRowOut]
    meta: PageMeta


class PreferenceOut(Schema):
    channels: list[str]
    email: str
    quiet_start: dt.time | None
    quiet_end: dt.time | None


class NoticeOut(Schema):
    id: int
    community_id: int | None
    title: str
    body: str
    urgent: bool
    sent_at: dt.datetime | None


class NoticePage(Schema):
    items: list[NoticeOut]
    meta: PageMeta


# --- converters ---------------------------------------------------------------------------------


def _counts(ids: list[int]) -> dict[int, dict[str, int]]:
    rows = (
        Receipt.objects.filter(broadcast_id__in=ids)
        .values("broadcast_id")
        .annotate(
            delivered=Count("pk"),
            read=Count("pk", filter=Q(read_at__isnull=False)),
            replied=Count("pk", filter=Q(replied_at__isnull=False)),
        )
        .order_by()
    )
    return {r["broadcast_id"]: r for r in rows}


def _broadcast_fields(b: Broadcast, totals: dict[str, int] | None) -> dict[str, Any]:
    totals = totals or {}
    return {
        "id": b.pk,
        "alliance_id": b.alliance_id,
        "community_id": b.community_id,
        "author_id": b.author_id,
        "author": b.author.name,
        "title": b.title,
        "body": b.body,
        "visibility": b.visibility,
        "urgent": b.urgent,
        "audience": b.audience,
        "audience_label": b.audience_label,
        "channels": list(b.channels or []),
        "reply_kind": b.reply_kind,
        "reply_choices": list(b.reply_choices or []),
        "reply_deadline": b.reply_deadline,
        "scheduled_at": b.scheduled_at,
        "status": b.status,
        "created_at": b.created_at,
        "sent_at": b.sent_at,
        "recipient_count": b.recipient_count,
        "delivered": totals.get("delivered", 0),
        "read": totals.get("read", 0),
        "replied": totals.get("replied", 0),
    }


def _broadcast_out(b: Broadcast) -> BroadcastOut:
    return BroadcastOut(**_broadcast_fields(b, _counts([b.pk]).get(b.pk)))


def _receipt_out(r: Receipt) -> ReceiptOut:
    from huzhu.core import clock

    b = r.broadcast
    open_ = b.reply_kind != ReplyKind.NONE and (
        b.reply_deadline is None or clock.now() <= b.reply_deadline
    )
    return ReceiptOut(
        id=r.pk,
        broadcast_id=b.pk,
        title=b.title,
        body=b.body,
        urgent=b.urgent,
        author=b.author.name,
        delivered_at=r.delivered_at,
        read_at=r.read_at,
        reply_kind=ReplyKind(b.reply_kind),
        reply_choices=list(b.reply_choices or []),
        reply_deadline=b.reply_deadline,
        can_reply=open_,
        reply=r.reply,
        replied_at=r.replied_at,
    )


def _preference_out(pref: Preference | None) -> PreferenceOut:
    if pref is None:
        return PreferenceOut(channels=[], email="", quiet_start=None, quiet_end=None)
    return PreferenceOut(
        channels=list(pref.channels or []),
        email=pref.email,
        quiet_start=pref.quiet_start,
        quiet_end=pref.quiet_end,
    )
