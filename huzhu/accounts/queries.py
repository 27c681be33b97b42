"""Reads about people, always scoped: the registry and the home page cards per role."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Household, Person, PersonSkill, Role, RoleGrant, Skill
from huzhu.orgs.models import Building, Community


def active_grants() -> QuerySet[RoleGrant]:
    """Active grants with what ``scope_label`` needs, for prefetching onto people."""
    return (
        RoleGrant.objects.active()
        .select_related("alliance", "community", "building__community", "group")
        .order_by("id")
    )


def person_skills() -> QuerySet[PersonSkill]:
    return PersonSkill.objects.select_related("skill", "certificate").order_by(
        "skill__category", "skill__code"
    )


def people_registry(
    actor: Person,
    *,
    q: str = "",
    community: Community | None = None,
    building: Building | None = None,
    role: str = "",
    skill: Skill | None = None,
    status: str = "",
) -> QuerySet[Person]:
    """The people ``actor`` may see, filtered; phone search goes through the blind index only.

    The caller has already checked that ``community`` and ``building`` are in the actor's scope.
    """
    people = policy.visible_to(actor, "accounts.view_person", Person.objects.all())
    q = (q or "").strip()
    if q:
        if pii.is_valid_phone(q):
            people = people.filter(phone_hash=pii.phone_index(q))
        else:
            people = people.filter(name__icontains=q)
    if community is not None:
        people = people.filter(community=community)
    if building is not None:
        people = people.filter(household__building=building)
    if role:
        people = people.filter(
            Exists(RoleGrant.objects.active().filter(person=OuterRef("pk"), role=role))
        )
    if skill is not None:
        people = people.filter(
            Exists(PersonSkill.objects.filter(person=OuterRef("pk"), skill=skill))
        )
    if status:
        people = people.filter(status=status)
    return (
        people.select_related("community", "household__building")
        .prefetch_related(
            Prefetch("grants", queryset=active_grants(), to_attr="active_grants"),
            Prefetch("skills", queryset=person_skills(), to_attr="held_skills"),
        )
        .order_by("id")
    )


def registry_filter_choices(actor: Person) -> dict[str, Any]:
    """Options of the registry filters: only nodes in which the actor sees someone."""
    buildings = policy.visible_to(actor, "accounts.view_person", Building.objects.all())
    communities = Community.objects.filter(
        Q(pk__in=policy.communities_for(actor, "accounts.view_person").values("pk"))
        | Q(pk__in=buildings.values("community_id"))
    ).order_by("id")
    return {
        "communities": list(communities),
        "buildings": list(buildings.select_related("community").order_by("community_id", "id")),
        "skills": list(Skill.objects.order_by("category", "code")),
        "roles": Role.choices,
    }


def home_cards(person: Person) -> list[dict[str, Any]]:
    """What the home page shows: one card for the person, one per grant they hold."""
    roles = policy.roles_of(person)
    links: list[tuple[str, str]] = [(_("查看与修改"), reverse("accounts:profile"))]
    lines = [
        _("技能 %(n)s 项") % {"n": person.skills.count()},
        _("每周可服务时段 %(n)s 个") % {"n": person.availability.count()},
    ]
    if Role.VOLUNTEER in roles:
        links.append((_("可服务时段"), reverse("accounts:availability")))
        links.append((_("我的技能"), reverse("accounts:skills")))
    cards: list[dict[str, Any]] = [
        {"kind": "self", "title": _("我的资料"), "lines": lines, "links": links},
        {
            "kind": "timebank",
            "title": _("时间银行"),
            "lines": [_("1 小时服务 = 1 积分，积分在联盟内各社区通用")],
            "links": [
                (_("我的积分"), reverse("timebank:my_points")),
                (_("付款码"), reverse("timebank:my_qr")),
                (_("我的会员"), reverse("timebank:my_membership")),
                (_("积分排行榜"), reverse("timebank:leaderboard")),
            ],
        },
        {
            "kind": "needs",
            "title": _("邻里互助"),
            "lines": [_("有困难就发布求助，楼长审核后为您安排志愿者")],
            "links": [
                (_("我要求助"), reverse("needs:need_create")),
                (_("我的需求"), reverse("needs:my_needs")),
                *(
                    [
                        (_("我的邀请"), reverse("needs:inbox")),
                        (_("我的服务"), reverse("needs:schedule")),
                    ]
                    if Role.VOLUNTEER in roles
                    else []
                ),
            ],
        },
    ]
    seen: set[tuple[str, str]] = set()
    for grant in policy._grants(person):
        key = (grant.role, grant.scope_key)
        if key in seen or grant.role in (Role.RESIDENT, Role.VOLUNTEER):
            continue
        seen.add(key)
        cards.append(_grant_card(person, grant))
    return cards


def _grant_card(person: Person, grant: RoleGrant) -> dict[str, Any]:
    role_label = grant.get_role_display()
    card: dict[str, Any] = {
        "kind": grant.role,
        "title": f"{role_label} · {grant.scope_label()}",
        "lines": [],
        "links": [],
    }
    if grant.role in (Role.MERCHANT, Role.FINANCE_OFFICER) and grant.community_id:
        # Their own pages live in the time bank and finance apps; here only what they may see.
        c = grant.community
        assert c is not None
        card["lines"] = [
            _("商家：积分兑换与月度对账")
            if grant.role == Role.MERCHANT
            else _("财务专员：收支、对账与公示")
        ]
        if policy.can(person, "orgs.view_community", c):
            card["links"].append((_("社区管理"), reverse("orgs:community_detail", args=[c.pk])))
        return card
    if grant.building_id:
        b = grant.building
        assert b is not None
        households = Household.objects.filter(building=b).count()
        residents = Person.objects.filter(household__building=b).count()
        card["lines"] = [
            _("住户 %(n)s 户") % {"n": households},
            _("登记居民 %(n)s 人") % {"n": residents},
        ]
        card["links"] = [(_("楼栋详情"), reverse("orgs:building_detail", args=[b.pk]))]
        if policy.can(person, "accounts.view_person", b):
            card["links"].append(
                (_("本楼人员"), reverse("accounts:person_list") + f"?building={b.pk}")
            )
    elif grant.group_id:
        group = grant.group
        assert group is not None
        card["lines"] = [group.description[:120]] if group.description else []
        card["links"] = [(_("查看小组"), reverse("orgs:group_detail", args=[group.pk]))]
    elif grant.community_id:
        c = grant.community
        assert c is not None
        stats = Community.objects.filter(pk=c.pk).aggregate(
            buildings=Count("buildings", distinct=True)
        )
        people = Person.objects.filter(community=c).count()
        card["lines"] = [
            _("楼栋 %(n)s 栋") % {"n": stats["buildings"]},
            _("人员 %(n)s 人") % {"n": people},
        ]
        if policy.can(person, "orgs.view_community", c):
            card["links"].append((_("社区管理"), reverse("orgs:community_detail", args=[c.pk])))
        if policy.can(person, "accounts.view_person", c):
            card["links"].append(
                (_("人员名册"), reverse("accounts:person_list") + f"?community={c.pk}")
            )
        if policy.can(person, "core.edit_settings", c):
            card["links"].append((_("规则设置"), reverse("orgs:settings", args=[c.pk])))
        if policy.can(person, "audit.view", c):
            card["links"].append((_("审计日志"), reverse("audit:list") + f"?community={c.pk}"))
    elif grant.alliance_id:
        communities = Community.objects.filter(alliance_id=grant.alliance_id)
        card["lines"] = [
            _("社区 %(n)s 个") % {"n": communities.count()},
            _("人员 %(n)s 人")
            % {"n": Person.objects.filter(community__alliance_id=grant.alliance_id).count()},
        ]
        card["links"] = [(_("全部社区"), reverse("orgs:community_list"))]
        if policy.can_anywhere(person, "accounts.view_person"):
            card["links"].append((_("人员名册"), reverse("accounts:person_list")))
    return card
