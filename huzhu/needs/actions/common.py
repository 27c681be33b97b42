"""What every action of the needs app shares: the row lock, the permission check against the
state machine's parties, the one place a state changes (history row + audit), notifications."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.needs import states
from huzhu.needs.models import Assignment, Need, NeedEvent
from huzhu.orgs.queries import get_setting


def lock_need(need: Need) -> Need:
    """The need, re-read under a row lock (the transitions of one need are serialized)."""
    return (
        Need.objects.select_for_update(of=("self",))
        .select_related("community", "building", "need_type")
        .get(pk=need.pk)
    )


def setting(key: str, need: Need) -> int:
    """A domain number resolved at the need's building (else its community)."""
    return int(get_setting(key, need.scope_node()))


def is_requester_party(actor: Person | None, need: Need) -> bool:
    return actor is not None and actor.pk in (need.requester_id, need.published_by_id)


def authorize(
    actor: Person | None,
    parties: tuple[str, ...],
    need: Need,
    assignment: Assignment | None = None,
) -> str:
    """Check that ``actor`` is one of ``parties`` (a transition's, see huzhu.needs.states) for
    ``need``; return which one.

    A system job is ``actor=None``. Without the right: 404 outside the actor's scope and 403
    inside it (huzhu.accounts.policy); a volunteer acting on someone else's assignment gets a
    403 DomainError.
    """
    if actor is None:
        if states.SYSTEM in parties:
            return states.SYSTEM
        raise DomainError("needs.actor.required", _("此操作需要登录。"), status=403)
    if states.REQUESTER in parties and is_requester_party(actor, need):
        return states.REQUESTER
    if (
        states.VOLUNTEER in parties
        and assignment is not None
        and assignment.volunteer_id == actor.pk
    ):
        return states.VOLUNTEER
    perms = [p for p in parties if p not in (states.REQUESTER, states.VOLUNTEER, states.SYSTEM)]
    node = need.scope_node()
    for perm in perms:
        if policy.can(actor, perm, node):
            return perm
    if not policy.in_scope(actor, node):
        raise Http404
    if not perms:
        raise DomainError("needs.assignment.not_yours", _("这不是派给你的服务。"), status=403)
    raise PermissionDenied(perms[0])


def move(
    need: Need,
    name: str,
    *,
    actor: Person | None,
    note: str = "",
    audit: dict[str, Any] | None = None,
    update_fields: tuple[str, ...] = (),
) -> Need:
    """Take transition ``name`` on a locked need: check the source state, set the target,
    save the given fields with it, write the history row and the audit entry."""
    t = states.check(need.state, name)
    now = clock.now()
    old_state = need.state
    need.state = t.target
    need.state_changed_at = now
    need.save(update_fields=["state", "state_changed_at", "updated_at", *update_fields])
    NeedEvent.objects.create(
        need=need,
        community_id=need.community_id,
        actor=actor,
        transition=name,
        from_state=old_state,
        to_state=t.target,
        at=now,
        note=note[:500],
    )
    record(
        t.audit_code,
        actor=actor,
        target=need,
        community=need.community,
        old={"state": old_state},
        new={"state": t.target, **(audit or {})},
    )
    return need


def tell(person: Person, code: str, key: str, need: Need, **ctx: Any) -> None:
    """The person hears of it in their inbox (and on their channels), in their language."""
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(
        code, person, type=need.need_type, starts_at=need.starts_at, id=need.pk, **ctx
    )
    notify_actions.notify(
        person=person, code=code, title=title, body=body, key=key, community=need.community
    )


def clean_text(value: str | None, field: str, max_len: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(f"needs.{field}.required", _("请填写此项。"), details={"field": field})
    if len(text) > max_len:
        raise DomainError(
            f"needs.{field}.too_long",
            _("不能超过 %(n)s 个字。") % {"n": max_len},
            details={"field": field},
        )
    return text
