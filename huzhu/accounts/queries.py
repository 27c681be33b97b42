"""Reads about people, always scoped: the home page cards per role."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Household, Person, Role
from huzhu.orgs.models import Building, Community


def home_cards(person: Person) -> list[dict[str, Any]]:
    """What the home page shows: one card for the person, one per grant they hold."""
    cards: list[dict[str, Any]] = [{
        "kind": "self",
        "title": _("我的资料"),
        "lines": [
            _("技能 %(n)s 项") % {"n": person.skills.count()},
            _("每周可服务时段 %(n)s 个") % {"n": person.availability.count()},
        ],
        "links": [(_("查看与修改"), reverse("accounts:profile"))],
    }]
    seen: set[tuple[str, str]] = set()
    for grant in policy._grants(person):
        key = (grant.role, grant.scope_key)
        if key in seen or grant.role in (Role.RESIDENT, Role.VOLUNTEER):
            continue
        seen.add(key)
        cards.append(_grant_card(person, grant))
    return cards


def _grant_card(person: Person, grant: Any) -> dict[str, Any]:
    role_label = grant.get_role_display()
    card: dict[str, Any] = {"kind": grant.role, "title": f"{role_label} · {grant.scope_label()}",
                            "lines": [], "links": []}
    if grant.building_id:
        b: Building = grant.building
        households = Household.objects.filter(building=b).count()
        residents = Person.objects.filter(household__building=b).count()
        card["lines"] = [_("住户 %(n)s 户") % {"n": households},
                         _("登记居民 %(n)s 人") % {"n": residents}]
        card["links"] = [(_("楼栋详情"), reverse("orgs:building_detail", args=[b.pk]))]
        if policy.can(person, "accounts.view_person", b):
            card["links"].append((_("本楼人员"),
                                  reverse("accounts:person_list") + f"?building={b.pk}"))
    elif grant.group_id:
        card["lines"] = [grant.group.description[:120]] if grant.group.description else []
        card["links"] = [(_("查看小组"), reverse("orgs:group_detail", args=[grant.group_id]))]
    elif grant.community_id:
        c: Community = grant.community
        stats = Community.objects.filter(pk=c.pk).aggregate(
            buildings=Count("buildings", distinct=True))
        people = Person.objects.filter(community=c).count()
        card["lines"] = [_("楼栋 %(n)s 栋") % {"n": stats["buildings"]},
                         _("人员 %(n)s 人") % {"n": people}]
        if policy.can(person, "orgs.view_community", c):
            card["links"].append((_("社区管理"), reverse("orgs:community_detail", args=[c.pk])))
        if policy.can(person, "accounts.view_person", c):
            card["links"].append((_("人员名册"),
                                  reverse("accounts:person_list") + f"?community={c.pk}"))
        if policy.can(person, "core.edit_settings", c):
            card["links"].append((_("规则设置"), reverse("orgs:settings", args=[c.pk])))
        if policy.can(person, "audit.view", c):
            card["links"].append((_("审计日志"), reverse("audit:list") + f"?community={c.pk}"))
    elif grant.alliance_id:
        communities = Community.objects.filter(alliance_id=grant.alliance_id)
        card["lines"] = [
            _("社区 %(n)s 个") % {"n": communities.count()},
            _("人员 %(n)s 人") % {"n": Person.objects.filter(
                community__alliance_id=grant.alliance_id).count()},
        ]
        card["links"] = [(_("全部社区"), reverse("orgs:community_list"))]
    return card
