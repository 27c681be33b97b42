"""Helpers for the helpdesk tests: a frozen clock, a testing group with its member and leader,
a routing rule, questions in a state."""

from __future__ import annotations

from typing import Any

from huzhu.accounts.models import Person, RoleGrant
from huzhu.audit.models import AuditEntry
from huzhu.helpdesk import actions
from huzhu.helpdesk.models import Question, RoutingRule
from huzhu.needs.tests.support import T0, at
from huzhu.orgs.models import Group

__all__ = ["T0", "at", "audits", "nat_group", "person_in", "question"]


def person_in(
    world: Any, name: str, phone: str, *, group: Group | None = None, role: str = ""
) -> Person:
    p = Person(name=name, community=group.community if group else world.community)
    p.set_phone(phone)
    p.set_unusable_password()
    p.save()
    if group is not None:
        RoleGrant.objects.create(
            person=p, role=role, scope_kind="group", community=group.community, group=group
        )
    return p


def nat_group(world: Any, cast: Any) -> tuple[Group, RoutingRule, Person, Person]:
    """A 核酸组 with one member and one leader, and the rule routing 核酸/抗原 to it."""
    group = Group.objects.create(community=world.community, name="核酸组")
    member = person_in(world, "核酸组员", "13600000101", group=group, role="group_member")
    leader = person_in(world, "核酸组长", "13600000102", group=group, role="group_leader")
    rule = actions.save_rule(
        actor=cast.branch_head,
        community=world.community,
        category="核酸检测",
        keywords="核酸\n抗原",
        group=group,
        priority=100,
    )
    return group, rule, member, leader


def question(cast: Any, text: str = "明天几点做核酸？", key: str = "q1") -> Question:
    return actions.ask_question(actor=cast.resident, text=text, key=key)


def audits(code: str) -> int:
    return AuditEntry.objects.filter(code=code).count()
