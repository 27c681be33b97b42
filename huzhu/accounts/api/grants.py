"""A person's roles: list, grant on a node, revoke."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja.responses import Status as Reply

from huzhu.accounts import actions, policy
from huzhu.accounts.api.common import _actor, _person_in_scope, router
from huzhu.accounts.api.schemas import GrantIn, GrantOut, PathId, _grant_out
from huzhu.accounts.models import RoleGrant, ScopeKind
from huzhu.core.api import ERRORS
from huzhu.orgs.models import Alliance, Building, Community, Group


def _scope_node(kind: str, pk: int) -> Alliance | Community | Building | Group:
    if kind == ScopeKind.ALLIANCE:
        alliance: Alliance = get_object_or_404(Alliance, pk=pk)
        return alliance
    if kind == ScopeKind.COMMUNITY:
        community: Community = get_object_or_404(
            Community.objects.select_related("alliance"), pk=pk
        )
        return community
    if kind == ScopeKind.BUILDING:
        building: Building = get_object_or_404(
            Building.objects.select_related("community__alliance"), pk=pk
        )
        return building
    group: Group = get_object_or_404(Group.objects.select_related("community__alliance"), pk=pk)
    return group


@router.get(
    "people/{int:person_id}/grants",
    response={200: list[GrantOut], **ERRORS},
    operation_id="huzhu_accounts_api_list_grants",
)
def list_grants(
    request: HttpRequest, person_id: PathId, include_revoked: bool = False
) -> list[GrantOut]:
    """A person's roles (accounts.view_person)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.view_person")
    grants = (
        RoleGrant.objects.filter(person=person)
        .select_related("alliance", "community", "building__community", "group")
        .order_by("id")
    )
    if not include_revoked:
        grants = grants.filter(revoked_at__isnull=True)
    return [_grant_out(g) for g in grants]


@router.post(
    "people/{int:person_id}/grants",
    response={201: GrantOut, **ERRORS},
    operation_id="huzhu_accounts_api_create_grant",
)
def create_grant(request: HttpRequest, person_id: PathId, payload: GrantIn) -> Reply[GrantOut]:
    """Grant a role on a node (accounts.grant_role on the node)."""
    actor = _actor(request)
    person = _person_in_scope(actor, person_id, "accounts.grant_role")
    node = _scope_node(payload.scope_kind, payload.scope_id)
    grant = actions.grant_role(actor=actor, person=person, role=payload.role, node=node)
    return Reply(201, _grant_out(grant))


@router.delete(
    "grants/{int:grant_id}",
    response={200: GrantOut, **ERRORS},
    operation_id="huzhu_accounts_api_revoke_grant",
)
def revoke_grant(request: HttpRequest, grant_id: PathId) -> GrantOut:
    """Revoke a role (accounts.grant_role on its node); returns the revoked grant."""
    actor = _actor(request)
    grant: RoleGrant = get_object_or_404(
        RoleGrant.objects.select_related(
            "person", "alliance", "community__alliance", "building__community", "group__community"
        ),
        pk=grant_id,
    )
    node = grant.group or grant.building or grant.community or grant.alliance
    policy.require(actor, "accounts.grant_role", node)
    revoked = actions.revoke_role(actor=actor, grant=grant)
    return _grant_out(revoked)
