"""The demo's needs (求助): the need types of DOMAIN.md (陪诊, 代购, 维修, 理发, 家政, 心理, 物资)
and a few needs of the demo resident in every step of the loop, so that each login finds its
needs pages filled: one waiting for the building manager's review (待审核), one offered to the
demo volunteer (待接单, in 我的邀请), one accepted with a message in its tracking thread (已接单,
in 我的服务), one completed with a photo and rated five stars (已评价), and two paid with points:
one accepted whose points are held (冻结) and one completed whose hold was paid to the volunteer.

Like the time bank (timebank.py), these go through the needs' actions (audited, idempotent);
the dates are relative to now, a completed service starts a few minutes from now (the actions
refuse a start in the past) and was checked in and out at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from huzhu.accounts.models import Person, PersonSkill, Skill
from huzhu.core import clock
from huzhu.needs import actions
from huzhu.needs.models import Assignment, Need, NeedType
from huzhu.timebank.queries import held_of, own_account


@dataclass(frozen=True)
class TypeSpec:
    code: str
    name: str
    name_en: str
    minutes: int
    skills: tuple[str, ...]


NEED_TYPES: tuple[TypeSpec, ...] = (
    TypeSpec("escort", "陪诊", "Clinic escort", 180, ("clinic_escort",)),
    TypeSpec("shopping", "代购", "Shopping", 60, ("shopping",)),
    TypeSpec("repair", "维修", "Repair", 90, ("repair",)),
    TypeSpec("haircut", "理发", "Haircut", 60, ("haircut",)),
    TypeSpec("housekeeping", "家政", "Housekeeping", 120, ("housekeeping",)),
    TypeSpec("counselling", "心理", "Counselling", 60, ("social_worker",)),
    TypeSpec("supplies", "物资", "Supplies", 60, ("lifting",)),
)

# A 1×1 PNG: the demo's photo of a service.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


def need_types() -> dict[str, NeedType]:
    """The taxonomy (editable data), each type linked to the skills it needs."""
    skills = Skill.objects.in_bulk(
        [code for spec in NEED_TYPES for code in spec.skills], field_name="code"
    )
    types: dict[str, NeedType] = {}
    for spec in NEED_TYPES:
        t, _created = NeedType.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "name_en": spec.name_en,
                "default_duration_minutes": spec.minutes,
            },
        )
        t.skills.add(*[skills[c] for c in spec.skills if c in skills])
        types[spec.code] = t
    return types


# What the demo volunteer (李志强) can do, whatever the random skills the loader gave them: the
# needs they serve below ask for these skills, which matching requires.
VOLUNTEER_SKILLS = ("haircut", "shopping", "repair", "housekeeping", "clinic_escort")


def load_needs(*, logins: dict[str, Person]) -> dict[str, int]:
    """Needs in each state for the demo resident, served by the demo volunteer."""
    types = need_types()
    resident = logins["resident"]
    volunteer = logins["volunteer"]
    for skill in Skill.objects.filter(code__in=VOLUNTEER_SKILLS):
        PersonSkill.objects.get_or_create(
            person=volunteer,
            skill=skill,
            defaults={"community_id": volunteer.community_id, "level": 4},
        )
    manager = logins["building_manager"]
    now = clock.now()
    day = (now + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)

    def publish(code: str, start: dt.datetime, text: str, key: str, points: int = 0) -> Need:
        minutes = types[code].default_duration_minutes
        return actions.publish_need(
            actor=resident,
            need_type=types[code],
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
            description=text,
            pay_with_points=points > 0,
            points=points,
            key=f"demo:need:{key}",
        )

    def offer(need: Need) -> Assignment:
        actions.review_need(actor=manager, need=need, approve=True)
        actions.offer_need(actor=manager, need=need, volunteers=[volunteer])
        return Assignment.objects.get(need=need, volunteer=volunteer)

    def accept(need: Need) -> Assignment:
        a = offer(need)
        return actions.accept_assignment(actor=volunteer, assignment=a)

    def complete(need: Need, stars: int, comment: str, photo: bool) -> None:
        a = accept(need)
        actions.check_in(actor=volunteer, assignment=a)
        if photo:
            actions.upload_evidence(
                actor=volunteer,
                need=need,
                file=SimpleUploadedFile("service.png", PNG, content_type="image/png"),
                key=f"demo:evidence:{need.pk}",
            )
        actions.check_out(actor=volunteer, assignment=a)
        actions.confirm_need(actor=resident, need=need)
        actions.rate_need(actor=resident, need=need, stars=stars, comment=comment)

    soon = now + dt.timedelta(minutes=5)
    complete(
        publish("haircut", soon, "上门理发，老人行动不便", "rated"),
        5,
        "师傅手艺好，很耐心",
        photo=True,
    )
    # Paid with points: half of what the resident has, at most one point, for each of two.
    available = held_of(own_account(resident))[2]
    points = min(100, available // 2)
    if points > 0:
        complete(
            publish("shopping", soon, "帮忙去菜场买一周的菜", "paid-settled", points),
            5,
            "菜很新鲜，谢谢",
            photo=False,
        )
        accept(publish("repair", day + dt.timedelta(days=2), "厨房水龙头漏水", "paid-held", points))
    accepted = publish("escort", day, "周三上午陪我去社区医院复查，需要推轮椅", "accepted")
    accept(accepted)
    actions.post_message(
        actor=volunteer, need=accepted, body="阿姨您好，我明早八点半到楼下接您。", key="demo:msg:1"
    )
    actions.post_message(actor=resident, need=accepted, body="好的，谢谢小李。", key="demo:msg:2")
    offer(publish("housekeeping", day + dt.timedelta(days=1), "帮忙打扫卫生、擦窗户", "offered"))
    publish("supplies", day + dt.timedelta(days=3), "需要一箱矿泉水搬上六楼", "submitted")
    return {"need types": len(types), "needs": Need.objects.count()}
