"""Granting and revoking roles on a node (alliance, community, building or group)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Role, RoleGrant, ScopeKind
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.orgs.models import Alliance, Building, Community, Group


def _node_for(kind: str, node: Any) -> dict[str, Any]:
    if kind == ScopeKind.ALLIANCE and isinstance(node, Alliance):
        return {"alliance": node}
    if kind == ScopeKind.COMMUNITY and isinstance(node, Community):
        return {"community": node}
    if kind == ScopeKind.BUILDING and isinstance(node, Building):
        return {"community": node.community, "building": node}
    if kind == ScopeKind.GROUP and isinstance(node, Group):
        return {"community": node.community, "group": node}
    raise DomainError("accounts.grant.bad_scope", _("授权范围无效。"), details={"field": "scope"})


def _tell(person: Person, code: str, key: str, community: Any, **context: Any) -> None:
    """The affected person hears of it in their inbox (and on their channels), in their
    language; sending happens after the commit, never inside this action."""
    from huzhu.notify import actions as notify_actions
    from huzhu.notify.render import render_event

    title, body = render_event(code, person, **context)
    notify_actions.notify(
        person=person, code=code, title=title, body=body, key=key, community=community
    )


@transaction.atomic
def grant_role(*, actor: Person, person: Person, role: str, node: Any) -> RoleGrant:
    """Grant ``role`` on ``node`` (alliance, community, building or group)."""
    if role not in Role.values:
        raise DomainError("accounts.role.invalid", _("角色无效。"), details={"field": "role"})
    kind = {
        Alliance: ScopeKind.ALLIANCE,
        Community: ScopeKind.COMMUNITY,
        Building: ScopeKind.BUILDING,
        Group: ScopeKind.GROUP,
    }.get(type(node))
    if kind is None:
        raise DomainError(
            "accounts.grant.bad_scope", _("授权范围无效。"), details={"field": "scope"}
        )
    policy.require(actor, "accounts.grant_role", node)
    if not actor.is_superuser:
        allowed: set[str] = set()
        scope = policy.scope_of(node)
        for g in policy._grants(actor):
            if policy._covers(g, scope):
                allowed |= policy.GRANTABLE_BY.get(g.role, frozenset())
        if role not in allowed:
            raise DomainError(
                "accounts.grant.not_allowed",
                _("您不能授予该角色。"),
                details={"field": "role"},
                status=403,
            )
    if kind != ScopeKind.ALLIANCE and not policy.in_scope(person, node) and not person.is_superuser:
        raise DomainError(
            "accounts.grant.other_community", _("该人员不属于此社区。"), details={"field": "person"}
        )
    fields = _node_for(kind, node)
    key = f"{kind}:{node.pk}"
    if RoleGrant.objects.active().filter(person=person, role=role, scope_key=key).exists():
        raise ConflictError("accounts.grant.exists", _("该人员已拥有此角色。"))
    grant = RoleGrant.objects.create(
        person=person, role=role, scope_kind=kind, granted_by=actor, **fields
    )
    policy.forget_grants(person)
    record(
        "accounts.role.granted",
        actor=actor,
        target=person,
        community=fields.get("community"),
        alliance=fields.get("alliance"),
        new={"role": role, "scope": key},
        scope=grant.scope_label(),
    )
    _tell(
        person,
        "accounts.role.granted",
        f"grant:{grant.pk}:granted",
        fields.get("community"),
        role=Role(role).label,
        scope=node,
        actor=actor,
    )
    return grant


@transaction.atomic
def revoke_role(*, actor: Person, grant: RoleGrant) -> RoleGrant:
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    node = grant.group or grant.building or grant.community or grant.alliance
    policy.require(actor, "accounts.grant_role", node)
    if grant.revoked_at is not None:
        raise ConflictError("accounts.grant.revoked", _("该授权已撤销。"))
    if grant.person_id == actor.pk and grant.role in (Role.BRANCH_HEAD, Role.DISTRICT_ADMIN):
        raise DomainError("accounts.grant.self_revoke", _("不能撤销自己的管理角色。"))
    grant.revoked_at = clock.now()
    grant.revoked_by = actor
    grant.save(update_fields=["revoked_at", "revoked_by"])
    policy.forget_grants(grant.person)
    record(
        "accounts.role.revoked",
        actor=actor,
        target=grant.person,
        community=grant.community,
        alliance=grant.alliance,
        old={"role": grant.role, "scope": grant.scope_key},
    )
    _tell(
        grant.person,
        "accounts.role.revoked",
        f"grant:{grant.pk}:revoked",
        grant.community,
        role=Role(grant.role).label,
        scope=node,
        actor=actor,
    )
    return grant
