"""Tracking a need while it is served (DOMAIN.md "The core loop" 4.–6.): the tracking thread
(跟踪群) that links resident, volunteer and manager, the volunteer's photo/video evidence
(type and size checked), and the manager's spot checks (抽查) by phone or on site.

Each action takes an optional idempotency ``key``: a retry with the same key by the same person
finds the row the first call made and does nothing else (no second row, audit entry or
notification)."""

from __future__ import annotations

from typing import IO, Any

from django.db import transaction
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.needs import states
from huzhu.needs.actions.common import (
    authorize,
    clean_text,
    is_requester_party,
    lock_need,
    setting,
    tell,
)
from huzhu.needs.models import (
    Assignment,
    Evidence,
    EvidenceKind,
    Need,
    NeedState,
    SpotCheck,
    SpotCheckMethod,
    SpotCheckResult,
    ThreadMessage,
)
from huzhu.needs.states import HOLDING_ASSIGNMENT_STATES
from huzhu.notify.render import register_events

# The thread member who is neither the requester nor the volunteer: "needs.view" on the need.
MANAGER = "manager"
VIEW = "needs.view"
MANAGE = "needs.manage"

# Evidence may be uploaded while the need is being served and once it is done.
EVIDENCE_STATES = frozenset({NeedState.ACCEPTED, NeedState.IN_SERVICE, NeedState.COMPLETED})
# A spot check needs a volunteer to check on.
SPOT_CHECK_STATES = states.STAFFED_STATES

# The brands of an ISO media file ("ftyp" box) accepted as an MP4 video; "qt  " is QuickTime.
# Other brands (HEIC photos "heic"/"mif1", audio "M4A ", 3GP …) are refused.
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"mmp4",
        b"MSNV",
        b"dash",
    }
)
# Old QuickTime files begin with one of these atoms instead of "ftyp".
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free"})
_KIND = {
    "image/jpeg": EvidenceKind.PHOTO,
    "image/png": EvidenceKind.PHOTO,
    "image/webp": EvidenceKind.PHOTO,
    "video/mp4": EvidenceKind.VIDEO,
    "video/quicktime": EvidenceKind.VIDEO,
}

# The texts of the notifications of this module (registered here, where they are sent).
EVENTS: dict[str, tuple[Promise, Promise]] = {
    "needs.thread.message": (
        gettext_lazy("跟踪群新消息：%(type)s"),
        gettext_lazy("“%(type)s”需求 #%(id)s 的跟踪群有新消息。%(author)s：%(body)s"),
    ),
}
register_events(EVENTS)


# --- the thread's members --------------------------------------------------------------------


def holding_assignment(need: Need) -> Assignment | None:
    """The assignment of the volunteer who serves (or served) the need, if any."""
    return (
        Assignment.objects.filter(need=need, state__in=HOLDING_ASSIGNMENT_STATES)
        .select_related("volunteer")
        .first()
    )


def thread_role(actor: Person | None, need: Need) -> str | None:
    """The actor's place in the need's tracking thread: the requester (or whoever published
    for them), the volunteer serving it, a manager ("needs.view" on the need) — else None."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return None
    if is_requester_party(actor, need):
        return states.REQUESTER
    a = holding_assignment(need)
    if a is not None and a.volunteer_id == actor.pk:
        return states.VOLUNTEER
    if policy.can(actor, VIEW, need.scope_node()):
        return MANAGER
    return None


def require_member(actor: Person | None, need: Need) -> str:
    """The actor's role in the thread; 404 outside their scope, 403 inside it."""
    role = thread_role(actor, need)
    if role is not None:
        return role
    if actor is None:
        raise DomainError("needs.actor.required", _("此操作需要登录。"), status=403)
    if not policy.in_scope(actor, need.scope_node()):
        raise Http404
    raise DomainError("needs.thread.not_member", _("你不是该需求跟踪群的成员。"), status=403)


def _recipients(need: Need, author: Person) -> list[Person]:
    """Who hears of a new message: the requester and their publisher, the volunteer, the
    manager who reviewed the need, and everyone who wrote in the thread before — not the
    author, and only while they are still members."""
    ids: list[int] = [need.requester_id, need.published_by_id]
    a = holding_assignment(need)
    if a is not None:
        ids.append(a.volunteer_id)
    if need.reviewed_by_id is not None:
        ids.append(need.reviewed_by_id)
    ids.extend(
        ThreadMessage.objects.filter(need=need).values_list("author_id", flat=True).distinct()
    )
    wanted = [pk for pk in dict.fromkeys(ids) if pk is not None and pk != author.pk]
    people = Person.objects.in_bulk(wanted)
    return [people[pk] for pk in wanted if pk in people and thread_role(people[pk], need)]


# --- actions ---------------------------------------------------------------------------------


def post_message(*, actor: Person, need: Need, body: str, key: str = "") -> ThreadMessage:
    """Write in the need's tracking thread (跟踪群, DOMAIN.md "The core loop" 4.: it links
    resident, volunteer and manager). Only its members may: the requester and whoever
    published for them, the volunteer serving the need, managers with "needs.view" on it
    (404 outside the actor's scope, 403 inside it). The other members are notified, once."""
    body = clean_text(body, "body", 2000, required=True)
    key = (key or "").strip()[:128]
    with transaction.atomic():
        need = Need.objects.select_related("community", "building", "need_type").get(pk=need.pk)
        role = require_member(actor, need)
        if key:
            earlier = ThreadMessage.objects.filter(
                need=need, author=actor, idempotency_key=key
            ).first()
            if earlier is not None:
                return earlier
        message = ThreadMessage.objects.create(
            need=need,
            community_id=need.community_id,
            author=actor,
            body=body,
            created_at=clock.now(),
            idempotency_key=key,
        )
        record(
            "needs.thread.posted",
            actor=actor,
            target=need,
            community=need.community,
            new={"message": message.pk, "role": role, "length": len(body)},
        )
        excerpt = body if len(body) <= 100 else body[:100] + "…"
        for person in _recipients(need, actor):
            tell(
                person,
                "needs.thread.message",
                f"need:{need.pk}:message:{message.pk}:to:{person.pk}",
                need,
                author=actor.name,
                body=excerpt,
            )
    return message


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes (magic numbers), or None when it is
    not a JPEG, PNG or WebP photo or an MP4 or QuickTime video."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in _MP4_BRANDS:
            return "video/mp4"
        return None
    if head[4:8] in _QT_ATOMS:
        return "video/quicktime"
    return None


def _head(file: IO[bytes]) -> bytes:
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    return bytes(head or b"")


def _size(file: Any) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
        file.seek(0)
    return int(size)


def _check_upload(actor: Person, need: Need, key: str) -> Evidence | None:
    """Who may upload, and when; the evidence an earlier call with ``key`` made, if any."""
    authorize(actor, (states.VOLUNTEER, MANAGE), need, holding_assignment(need))
    if key:
        earlier = Evidence.objects.filter(need=need, uploaded_by=actor, idempotency_key=key)
        if (found := earlier.first()) is not None:
            return found
    if need.state not in EVIDENCE_STATES:
        raise ConflictError(
            "needs.evidence.bad_state",
            _("需求当前状态为“%(state)s”，不能上传服务凭证。")
            % {"state": NeedState(need.state).label},
            details={"state": need.state},
        )
    return None


def _check_file(file: Any, need: Need) -> tuple[str, str, int]:
    """(content type, kind, size) of an acceptable file; its type read from its first bytes,
    its size within the community's limit for its kind."""
    size = _size(file)
    if size <= 0:
        raise DomainError(
            "needs.evidence.empty", _("文件是空的，请重新选择。"), details={"field": "file"}
        )
    content_type = sniff(_head(file))
    if content_type is None:
        raise DomainError(
            "needs.evidence.type",
            _("只能上传 JPEG、PNG、WebP 格式的照片或 MP4、MOV 格式的视频。"),
            details={"field": "file"},
        )
    kind = _KIND[content_type]
    max_mb = setting(f"needs.evidence_{kind}_max_mb", need)
    if size > max_mb * 1024 * 1024:
        message = (
            _("照片不能超过 %(n)s MB，请压缩后再上传。")
            if kind == EvidenceKind.PHOTO
            else _("视频不能超过 %(n)s MB，请剪短或压缩后再上传。")
        )
        raise DomainError(
            "needs.evidence.too_large",
            message % {"n": max_mb},
            details={"field": "file", "max_mb": max_mb, "size": size},
        )
    return content_type, kind, size


def upload_evidence(*, actor: Person, need: Need, file: Any, key: str = "") -> Evidence:
    """The volunteer serving a need (or a manager, "needs.manage") uploads a photo or video of
    the service (DOMAIN.md "The core loop" 6.: the volunteer uploads photo/video evidence),
    while the need is accepted, in service or completed. The type is read from the file's
    first bytes (JPEG, PNG, WebP, MP4, QuickTime; the declared type and the name are not
    trusted); the size limit is the community setting ``needs.evidence_photo_max_mb`` or
    ``needs.evidence_video_max_mb``.

    The file is written to storage before the transaction (a large video does not hold the
    need's row lock, nor SQLite's write lock); the rules are checked again under the lock, and
    the stored file is removed when the row is not written."""
    key = (key or "").strip()[:128]
    current = Need.objects.select_related("community", "building", "need_type").get(pk=need.pk)
    earlier = _check_upload(actor, current, key)
    if earlier is not None:
        return earlier
    content_type, kind, size = _check_file(file, current)
    evidence = Evidence(
        need=current,
        community_id=current.community_id,
        uploaded_by=actor,
        kind=kind,
        content_type=content_type,
        size=size,
        idempotency_key=key,
    )
    field = Evidence._meta.get_field("file")
    storage = field.storage
    name = storage.save(field.generate_filename(evidence, "evidence"), file)
    try:
        with transaction.atomic():
            need = lock_need(need)
            earlier = _check_upload(actor, need, key)
            if earlier is not None:
                storage.delete(name)
                return earlier
            evidence.need = need
            evidence.file = name
            evidence.created_at = clock.now()
            evidence.save()
            record(
                "needs.evidence.uploaded",
                actor=actor,
                target=need,
                community=need.community,
                new={
                    "evidence": evidence.pk,
                    "kind": kind,
                    "content_type": content_type,
                    "size": size,
                },
            )
    except BaseException:
        storage.delete(name)
        raise
    return evidence


def record_spot_check(
    *,
    actor: Person,
    need: Need,
    method: str,
    result: str,
    note: str = "",
    key: str = "",
) -> SpotCheck:
    """A manager ("needs.manage") records a spot check (抽查) of a service by phone or on site
    and its result (DOMAIN.md "The core loop" 5.: the manager may spot-check by phone or on
    site and records it). Only a need with a volunteer can be checked; a problem found needs a
    note saying what it was."""
    if method not in SpotCheckMethod.values:
        raise DomainError(
            "needs.spot_check.method",
            _("抽查方式只能是电话抽查或上门抽查。"),
            details={"field": "method"},
        )
    if result not in SpotCheckResult.values:
        raise DomainError(
            "needs.spot_check.result",
            _("抽查结果只能是正常或有问题。"),
            details={"field": "result"},
        )
    note = clean_text(note, "note", 500, required=result == SpotCheckResult.PROBLEM)
    key = (key or "").strip()[:128]
    with transaction.atomic():
        need = lock_need(need)
        authorize(actor, (MANAGE,), need)
        if key:
            earlier = SpotCheck.objects.filter(
                need=need, manager=actor, idempotency_key=key
            ).first()
            if earlier is not None:
                return earlier
        if need.state not in SPOT_CHECK_STATES:
            raise ConflictError(
                "needs.spot_check.bad_state",
                _("需求当前状态为“%(state)s”，还没有志愿者服务，不能抽查。")
                % {"state": NeedState(need.state).label},
                details={"state": need.state},
            )
        check = SpotCheck.objects.create(
            need=need,
            community_id=need.community_id,
            manager=actor,
            method=method,
            result=result,
            note=note,
            created_at=clock.now(),
            idempotency_key=key,
        )
        record(
            "needs.spot_check.recorded",
            actor=actor,
            target=need,
            community=need.community,
            new={"spot_check": check.pk, "method": method, "result": result, "note": note},
        )
    return check
