"""Approving a batch plan (issue 5 "Batch mode": "assign them together … and show the plan for
a manager to approve"; the plan is ``huzhu.needs.plans.batch_plan``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.models import AuditEntry
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs.actions.assign import fresh_candidates, offer_need, rule_message
from huzhu.needs.actions.common import lock_need
from huzhu.needs.matching import score, violations
from huzhu.needs.models import Need, NeedState
from huzhu.needs.plans import named

PLAN = "needs.plan_batch"
AUDIT_CODE = "needs.batch.approved"
#: A volunteer whose position is unknown (for a need with a place: distance cannot be checked).
PLACE_UNKNOWN = "place_unknown"

# Why a pair of the plan was not offered, besides a rule of ``huzhu.needs.matching.CODES``.
SCOPE = "scope"
STATE = "state"
UNKNOWN = "unknown"
OFFER = "offer"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A pair of the plan not offered: the rules it breaks now (or ``scope``, ``state``,
    ``unknown``, ``offer``), and the reason in words."""

    need_id: int
    volunteer_id: int
    codes: tuple[str, ...]
    message: str
    #: The need's state then (for ``state``).
    state: str = ""


@dataclass(frozen=True, slots=True)
class BatchResult:
    offered: tuple[tuple[int, int], ...]
    skipped: tuple[Skipped, ...]
    #: True when this answers an earlier approval with the same key (nothing was done now).
    replay: bool = False


def _skip_text(code: str, name: str, state: str = "") -> str:
    if code == SCOPE:
        return _("该需求不在您的管辖范围内。")
    if code == STATE:
        label = NeedState(state).label if state in NeedState.values else state
        return _("需求当前状态为“%(state)s”，已不在待派单状态。") % {"state": label}
    if code == UNKNOWN:
        return _("找不到该需求或志愿者。")
    if code == OFFER:
        return _("派单未成功，请单独处理。")
    return rule_message(code, name)


def _encode(result: BatchResult) -> dict[str, list[str]]:
    return {
        "offered": [f"{n}:{v}" for n, v in result.offered],
        "skipped": [
            f"{s.need_id}:{s.volunteer_id}:{'+'.join(s.codes)}:{s.state}" for s in result.skipped
        ],
    }


def _decode(values: dict[str, Any]) -> BatchResult:
    """An earlier approval from its audit entry (texts rendered again in today's language)."""
    offered: list[tuple[int, int]] = []
    for item in values.get("offered") or []:
        n, v = str(item).split(":")
        offered.append((int(n), int(v)))
    rows: list[tuple[int, int, tuple[str, ...], str]] = []
    for item in values.get("skipped") or []:
        n, v, codes, state = str(item).split(":", 3)
        rows.append((int(n), int(v), tuple(c for c in codes.split("+") if c), state))
    volunteers = {row[1] for row in rows}
    names = dict(Person.objects.filter(pk__in=volunteers).values_list("pk", "name"))
    skipped = tuple(
        Skipped(
            n,
            v,
            codes,
            _skip_text(codes[0] if codes else OFFER, names.get(v, str(v)), state),
            state,
        )
        for n, v, codes, state in rows
    )
    return BatchResult(tuple(offered), skipped, replay=True)


def approved_with(actor: Person, key: str) -> BatchResult | None:
    """The approval ``actor`` made with ``key``, if any."""
    entry = (
        AuditEntry.objects.filter(code=AUDIT_CODE, actor=actor, new_values__batch=key)
        .order_by("id")
        .first()
    )
    return _decode(entry.new_values) if entry is not None else None


def approve_batch_plan(*, actor: Person, pairs: Sequence[tuple[int, int]], key: str) -> BatchResult:
    """Offer each kept (need, volunteer) pair of an approved batch plan through ``offer_need``,
    in one transaction (issue 5 "Batch mode"). The world may have changed since the plan was
    made: each pair is checked again now — the need still approved and not offered, in the
    manager's scope ("needs.plan_batch" and "needs.offer"), and every hard constraint of the
    matching core (``violations`` on fresh candidates) — and a pair that fails is skipped and
    reported with the rule it breaks. Idempotent by ``key``: the same key answers the first
    approval (``replay``) and does nothing. One audit entry ``needs.batch.approved``."""
    key = (key or "").strip()[:128]
    if not key:
        raise DomainError("needs.batch.key", _("缺少幂等键。"), details={"field": "key"})
    if not policy.can_anywhere(actor, PLAN):
        raise PermissionDenied(PLAN)
    wanted: dict[int, int] = {}
    for need_id, volunteer_id in pairs:
        if wanted.setdefault(int(need_id), int(volunteer_id)) != int(volunteer_id):
            raise DomainError(
                "needs.batch.duplicate",
                _("同一需求只能派给方案中的一位志愿者。"),
                details={"need": need_id},
            )
    with transaction.atomic():
        # One manager's approvals run one at a time: a replay waits for the first and answers it.
        Person.objects.select_for_update().filter(pk=actor.pk).values_list("pk").first()
        earlier = approved_with(actor, key)
        if earlier is not None:
            return earlier
        needs = Need.objects.select_related("community", "building", "need_type").in_bulk(
            list(wanted)
        )
        people = Person.objects.select_related("community__alliance", "household").in_bulk(
            list(wanted.values())
        )
        now = clock.now()
        offered: list[tuple[int, int]] = []
        skipped: list[Skipped] = []

        def skip(
            need_id: int, volunteer_id: int, codes: Sequence[str], message: str, state: str = ""
        ) -> None:
            skipped.append(Skipped(need_id, volunteer_id, tuple(codes), message, state))

        community = None
        for need_id in sorted(wanted):  # lock the needs in a fixed order
            volunteer_id = wanted[need_id]
            need, volunteer = needs.get(need_id), people.get(volunteer_id)
            name = volunteer.name if volunteer is not None else str(volunteer_id)
            if need is None or volunteer is None:
                skip(need_id, volunteer_id, [UNKNOWN], _skip_text(UNKNOWN, name))
                continue
            node = need.scope_node()
            if not policy.in_scope(actor, node):  # outside every community of theirs: unknown
                skip(need_id, volunteer_id, [UNKNOWN], _skip_text(UNKNOWN, name))
                continue
            if not (policy.can(actor, PLAN, node) and policy.can(actor, "needs.offer", node)):
                skip(need_id, volunteer_id, [SCOPE], _skip_text(SCOPE, name))
                continue
            need = lock_need(need)
            community = community or need.community
            if need.state != NeedState.APPROVED:
                skip(
                    need_id, volunteer_id, [STATE], _skip_text(STATE, name, need.state), need.state
                )
                continue
            located, fresh = fresh_candidates(need, [volunteer], now)
            cand = fresh.get(volunteer.pk)
            codes = violations(located.spec, cand) if cand is not None else [PLACE_UNKNOWN]
            if codes:
                skip(need_id, volunteer_id, codes, rule_message(codes[0], name))
                continue
            assert cand is not None
            why = [named(r, located.skill_names).text for r in score(located.spec, cand).reasons]
            try:
                with transaction.atomic():
                    offer_need(
                        actor=actor, need=need, volunteers=[volunteer], reasons={volunteer.pk: why}
                    )
            except DomainError as exc:
                skip(need_id, volunteer_id, [OFFER], str(exc.message))
                continue
            offered.append((need_id, volunteer_id))
        result = BatchResult(tuple(offered), tuple(skipped))
        record(
            AUDIT_CODE,
            actor=actor,
            community=community or actor.community,
            new={"batch": key, **_encode(result)},
        )
    return result
