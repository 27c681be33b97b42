"""The one policy module: who may do what, where.

``can(actor, perm, obj)`` answers a single question; ``require`` raises (404 outside the actor's
scope, 403 inside it without the permission); ``visible_to`` filters a queryset to what an actor
may see with a permission. Roles are granted on a node (alliance, community, building, group);
a grant covers that node and everything below it. docs/permissions.md is the readable table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404

from huzhu.accounts.models import Household, Person, Role, RoleGrant
from huzhu.orgs.models import Alliance, Building, Community, Group, JobDescription

R = Role

# permission → roles that hold it (on the node of their grant and everything below).
PERMISSIONS: dict[str, frozenset[str]] = {
    "orgs.view_community": frozenset(
        {R.BRANCH_HEAD, R.FINANCE_OFFICER, R.BROKER, R.DISTRICT_ADMIN}
    ),
    "orgs.manage_community": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "orgs.view_building": frozenset(
        {R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER, R.DISTRICT_ADMIN}
    ),
    "orgs.manage_building": frozenset({R.BRANCH_HEAD}),
    "orgs.manage_household": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "orgs.view_group": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER, R.GROUP_MEMBER, R.DISTRICT_ADMIN}),
    "orgs.manage_group": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER}),
    "accounts.view_person": frozenset(
        {R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER, R.DISTRICT_ADMIN}
    ),
    "accounts.manage_person": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "accounts.reveal_pii": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "accounts.import_roster": frozenset({R.BRANCH_HEAD}),
    "accounts.export_roster": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "accounts.grant_role": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "audit.view": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "core.edit_settings": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "notify.broadcast": frozenset(
        {R.BRANCH_HEAD, R.DISTRICT_ADMIN, R.BUILDING_MANAGER, R.GROUP_LEADER}
    ),
    # The time bank: others' statements, paper-ledger entry and its check, reversals.
    "timebank.view_ledger": frozenset(
        {R.BRANCH_HEAD, R.BUILDING_MANAGER, R.FINANCE_OFFICER, R.DISTRICT_ADMIN}
    ),
    "timebank.enter_paper": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "timebank.reverse": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "timebank.manage_service_days": frozenset({R.BRANCH_HEAD}),
    # Merchants: the branch head signs them up; their staff (role merchant, listed on the
    # merchant) redeem; the finance officer reconciles.
    "timebank.manage_merchants": frozenset({R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    "timebank.redeem": frozenset({R.MERCHANT}),
    "timebank.reconcile_merchants": frozenset({R.BRANCH_HEAD, R.FINANCE_OFFICER, R.DISTRICT_ADMIN}),
    # Memberships: payments recorded by the finance officer.
    "timebank.view_members": frozenset(
        {R.BRANCH_HEAD, R.FINANCE_OFFICER, R.BUILDING_MANAGER, R.DISTRICT_ADMIN}
    ),
    "timebank.manage_members": frozenset({R.BRANCH_HEAD, R.FINANCE_OFFICER}),
    # Needs (DOMAIN.md "The core loop"): see others' needs; publish for a person (recorded as
    # on their behalf); review; offer to volunteers; confirm from a paper slip, mark a no-show,
    # cancel for someone; the organisations' offers of the supply library.
    "needs.view": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER, R.DISTRICT_ADMIN}),
    "needs.publish_for": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER}),
    "needs.review": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "needs.offer": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER}),
    "needs.manage": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    "needs.manage_offers": frozenset({R.BRANCH_HEAD, R.BROKER, R.DISTRICT_ADMIN}),
    # Batch mode: plan the approved needs of the node together and approve the plan.
    "needs.plan_batch": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    # The broker's workspace: the people of their area in their care, needs entered for them,
    # a volunteer picked from the suggestions, recurring services arranged.
    "needs.care": frozenset({R.BROKER}),
    # Complaints against a service (DOMAIN.md "Activities, complaints, safety"): file one on
    # a person's behalf; handle them (contact both sides, decide the outcome, see the list).
    "needs.file_complaint": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER, R.BROKER}),
    "needs.handle_complaint": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    # The need taxonomy (陪诊, 代购, 维修 …) is platform-wide: it hangs in no community, so it is
    # checked with ``can_anywhere`` (district admins; superusers hold every permission).
    "needs.manage_types": frozenset({R.DISTRICT_ADMIN}),
    # Group buying (DOMAIN.md "Lockdown operations"): the 团长 is the group leader of the group
    # running the buy (the 团长组 of the supply chain); open, close, arrive, assign deliveries,
    # record shortages; see the orders and sheets; record payments; order for a household.
    "lockdown.run_group_buy": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER}),
    "lockdown.view_group_buy": frozenset(
        {R.BRANCH_HEAD, R.GROUP_LEADER, R.GROUP_MEMBER, R.FINANCE_OFFICER, R.DISTRICT_ADMIN}
    ),
    "lockdown.record_payment": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER, R.FINANCE_OFFICER}),
    "lockdown.order_for": frozenset({R.BRANCH_HEAD, R.BUILDING_MANAGER}),
    # Living documents (SOPs, job descriptions; DOMAIN.md "Lockdown operations"): read one shown
    # only to its owning group; edit it and decide on suggestions (the leader of the owning
    # group, the branch head); suggest a change (everyone of the community who can read it —
    # living there is enough, see huzhu.documents.queries.may_suggest).
    "documents.view_group": frozenset(
        {R.BRANCH_HEAD, R.GROUP_LEADER, R.GROUP_MEMBER, R.DISTRICT_ADMIN}
    ),
    "documents.edit": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER}),
    "documents.review_suggestion": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER}),
    "documents.suggest": frozenset(set(R.values)),
    # Residents' questions (DOMAIN.md "Lockdown operations", 客服关爱): ask; answer the questions
    # routed to one's group (members, its leader, the branch head); edit the routing keywords;
    # publish an answer as an FAQ.
    "helpdesk.ask": frozenset({R.RESIDENT}),
    "helpdesk.answer": frozenset({R.GROUP_MEMBER, R.GROUP_LEADER, R.BRANCH_HEAD}),
    "helpdesk.manage_rules": frozenset({R.BRANCH_HEAD}),
    "helpdesk.publish_faq": frozenset({R.GROUP_LEADER, R.BRANCH_HEAD}),
    # Mass testing (核酸检测 and other mass services): the staff of the group running the
    # session (its leader and members) open it, call the batches, check households in and mark
    # the absent; the branch head on the community; the district admin reads the counts.
    "lockdown.run_testing": frozenset({R.BRANCH_HEAD, R.GROUP_LEADER, R.GROUP_MEMBER}),
    "lockdown.view_testing": frozenset(
        {R.BRANCH_HEAD, R.GROUP_LEADER, R.GROUP_MEMBER, R.DISTRICT_ADMIN}
    ),
}

# Roles a granter may hand out: a branch head cannot make a district admin.
GRANTABLE_BY: dict[str, frozenset[str]] = {
    R.BRANCH_HEAD: frozenset(set(R.values) - {R.BRANCH_HEAD, R.DISTRICT_ADMIN}),
    R.DISTRICT_ADMIN: frozenset(set(R.values)),
}


@dataclass(frozen=True)
class Scope:
    """Where an object sits in the tree."""

    alliance_id: int | None = None
    community_id: int | None = None
    building_id: int | None = None
    group_ids: tuple[int, ...] = field(default_factory=tuple)


def scope_of(obj: Any) -> Scope:
    """The node path of an object; every scoped model is listed here."""
    if isinstance(obj, Alliance):
        return Scope(alliance_id=obj.pk)
    if isinstance(obj, Community):
        return Scope(obj.alliance_id, obj.pk)
    if isinstance(obj, Building):
        return Scope(obj.community.alliance_id, obj.community_id, obj.pk)
    if isinstance(obj, Household):
        return Scope(obj.community.alliance_id, obj.community_id, obj.building_id)
    if isinstance(obj, Group):
        return Scope(
            obj.community.alliance_id,
            obj.community_id,
            obj.building_id,
            (obj.pk, *obj.ancestor_ids()),
        )
    if isinstance(obj, JobDescription):
        if obj.group is not None:
            return scope_of(obj.group)
        return Scope(obj.community.alliance_id, obj.community_id)
    if isinstance(obj, Person):
        if obj.community is None:
            return Scope()
        building_id = obj.household.building_id if obj.household is not None else None
        return Scope(obj.community.alliance_id, obj.community_id, building_id)
    own_scope = getattr(obj, "policy_scope", None)
    if callable(own_scope):  # a domain model that hangs below a group (a group buy)
        scope: Scope = own_scope()
        return scope
    community = getattr(obj, "community", None)
    if isinstance(community, Community):
        return Scope(community.alliance_id, community.pk)
    alliance_id = getattr(obj, "alliance_id", None)
    if alliance_id is not None:  # an alliance-wide object (a broadcast to the whole alliance)
        return Scope(alliance_id=alliance_id)
    raise TypeError(f"no scope rule for {type(obj).__name__}")


def _grants(actor: Person) -> list[RoleGrant]:
    cached: list[RoleGrant] | None = getattr(actor, "_policy_grants", None)
    if cached is None:
        cached = list(RoleGrant.objects.active().filter(person=actor))
        actor._policy_grants = cached  # type: ignore[attr-defined]
    return cached


def forget_grants(actor: Person) -> None:
    """Drop the per-object grant cache after a grant changes."""
    if hasattr(actor, "_policy_grants"):
        del actor._policy_grants


def roles_of(actor: Person) -> set[str]:
    return {g.role for g in _grants(actor)}


def _covers(grant: RoleGrant, scope: Scope) -> bool:
    if grant.scope_kind == "alliance":
        return scope.alliance_id is not None and grant.alliance_id == scope.alliance_id
    if grant.scope_kind == "community":
        return scope.community_id is not None and grant.community_id == scope.community_id
    if grant.scope_kind == "building":
        return scope.building_id is not None and grant.building_id == scope.building_id
    return grant.group_id in scope.group_ids


def _is_authenticated(actor: Any) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False))


def can(actor: Any, perm: str, obj: Any) -> bool:
    """May ``actor`` use ``perm`` on ``obj``?"""
    if perm not in PERMISSIONS:
        raise KeyError(f"unknown permission {perm}")
    if not _is_authenticated(actor) or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    roles = PERMISSIONS[perm]
    scope = scope_of(obj)
    return any(g.role in roles and _covers(g, scope) for g in _grants(actor))


def in_scope(actor: Any, obj: Any) -> bool:
    """Is ``obj`` inside a community the actor belongs to or holds any role in?

    Outside of it an object is answered with 404, so that its existence is not disclosed.
    """
    if not _is_authenticated(actor):
        return False
    if actor.is_superuser:
        return True
    scope = scope_of(obj)
    if scope.community_id is None and scope.alliance_id is None:
        return isinstance(obj, Person) and obj.pk == actor.pk
    if scope.community_id is not None and actor.community_id == scope.community_id:
        return True
    for g in _grants(actor):
        if g.scope_kind == "alliance" and g.alliance_id == scope.alliance_id:
            return True
        if g.community_id is not None and g.community_id == scope.community_id:
            return True
    return False


def require(actor: Any, perm: str, obj: Any) -> None:
    """Raise Http404 outside the actor's scope, PermissionDenied inside it without ``perm``."""
    if can(actor, perm, obj):
        return
    if not in_scope(actor, obj):
        raise Http404
    raise PermissionDenied(perm)


def can_anywhere(actor: Any, perm: str) -> bool:
    """Does the actor hold ``perm`` on any node (to show a menu entry)?"""
    if not _is_authenticated(actor):
        return False
    if actor.is_superuser:
        return True
    return any(g.role in PERMISSIONS[perm] for g in _grants(actor))


# Field paths from each model to the nodes of the tree, for queryset filtering.
_PATHS: dict[type[models.Model], dict[str, str]] = {
    Alliance: {"alliance": "pk"},
    Community: {"alliance": "alliance_id", "community": "pk"},
    Building: {"alliance": "community__alliance_id", "community": "community_id", "building": "pk"},
    Household: {
        "alliance": "community__alliance_id",
        "community": "community_id",
        "building": "building_id",
    },
    Group: {
        "alliance": "community__alliance_id",
        "community": "community_id",
        "building": "building_id",
        "group": "pk",
    },
    JobDescription: {
        "alliance": "community__alliance_id",
        "community": "community_id",
        "group": "group_id",
    },
    Person: {
        "alliance": "community__alliance_id",
        "community": "community_id",
        "building": "household__building_id",
    },
}


def register_paths(model: type[models.Model], paths: dict[str, str]) -> None:
    """Let a domain app describe how its model hangs in the tree (alliance/community/...)."""
    _PATHS[model] = paths


def _descendant_group_ids(roots: Iterable[int]) -> set[int]:
    found = set(roots)
    frontier = set(found)
    while frontier:
        children = set(Group.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        frontier = children - found
        found |= frontier
    return found


def visible_to(actor: Any, perm: str, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Only the rows of ``queryset`` on which the actor holds ``perm``."""
    if perm not in PERMISSIONS:
        raise KeyError(f"unknown permission {perm}")
    if not _is_authenticated(actor) or not actor.is_active:
        return queryset.none()
    if actor.is_superuser:
        return queryset
    paths = _PATHS.get(queryset.model)
    if paths is None:
        if any(f.name == "community" for f in queryset.model._meta.get_fields()):
            paths = {"alliance": "community__alliance_id", "community": "community_id"}
        else:
            raise TypeError(f"no scope paths for {queryset.model.__name__}")
    roles = PERMISSIONS[perm]
    q = Q(pk__in=[])
    group_roots: list[int] = []
    for g in _grants(actor):
        if g.role not in roles:
            continue
        kind = g.scope_kind
        if kind == "group":
            group_roots.append(g.group_id)  # type: ignore[arg-type]
            continue
        path = paths.get(kind)
        if path is None:
            continue
        node_id = {
            "alliance": g.alliance_id,
            "community": g.community_id,
            "building": g.building_id,
        }[kind]
        q |= Q(**{path: node_id})
    if group_roots and "group" in paths:
        q |= Q(**{f"{paths['group']}__in": _descendant_group_ids(group_roots)})
    return queryset.filter(q)


def communities_for(actor: Any, perm: str) -> models.QuerySet[Community]:
    """Communities in which the actor holds ``perm`` on the community itself (or above)."""
    return visible_to(actor, perm, Community.objects.all())
