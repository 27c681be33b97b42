"""The demo's lockdown operations (seed 000): an open group buy of the 团长组 with the demo
resident's order and a few dozen neighbours', a mass testing session of the 风控消杀 group with
its first batch called and some households checked in, and the living SOPs — the daily
prevention SOP at version 2.0 with a resident's suggestion waiting, the group-buying SOP of the
团长组 — and the residents' questions: routing rules by keyword, one question answered and
published as an FAQ, one waiting in the testing group's queue — so the 团购, 集中检测, 文档, 问答
and 楼栋状态 pages of every login have something on them.

Like the time bank and the needs, these go through the lockdown actions (audited, idempotent,
notifications sent); every key starts with ``demo:`` and the times are relative to now."""

from __future__ import annotations

import datetime as dt
import random

from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.documents import actions as documents
from huzhu.documents.models import DocumentKind, Visibility
from huzhu.helpdesk import actions as helpdesk
from huzhu.lockdown import actions
from huzhu.lockdown.actions import ItemSpec
from huzhu.lockdown.actions import testing as testing_actions
from huzhu.lockdown.models import GroupBuyItem
from huzhu.orgs.models import Community, Group

ITEMS = (
    ItemSpec(name="蔬菜包（8种）", unit="份", price_fen=5800),
    ItemSpec(name="鸡蛋（30枚）", unit="盒", price_fen=2650, stock=120, per_household_max=2),
    ItemSpec(name="猪肉", unit="斤", price_fen=3199, min_total=20),
    ItemSpec(name="大米（10斤）", unit="袋", price_fen=4500),
)
ORDERS = 40  # neighbours ordering besides the demo resident
TESTING_BUILDINGS = 4
CHECKED_IN = 6


def load_lockdown(
    *, community: Community, logins: dict[str, Person], rng: random.Random
) -> dict[str, int]:
    """Fill the first community's lockdown pages; returns counts for the summary."""
    groups = {g.name: g for g in Group.objects.filter(community=community)}
    now = clock.now()
    buildings = list(community.buildings.order_by("pk"))
    counts = {
        "group buys": 0,
        "group-buy orders": 0,
        "testing sessions": 0,
        "documents": 0,
        "questions": 0,
    }

    # --- 团购: open until tonight, delivered tomorrow -----------------------------------------
    gb = actions.open_group_buy(
        actor=logins["group_leader"],
        community=community,
        group=groups.get("团长组"),
        logistics_group=groups.get("物流组"),
        title="保供蔬菜团购（第 3 期）",
        supplier_name="叮咚买菜浦东保供站",
        supplier_contact="021-5000 0000",
        deadline=now + dt.timedelta(hours=8),
        delivery_date=(now + dt.timedelta(days=1)).date(),
        buildings=buildings,
        items=list(ITEMS),
        key="demo:group-buy:3",
    )
    counts["group buys"] += 1
    items = list(GroupBuyItem.objects.filter(group_buy=gb).order_by("position", "pk"))
    resident = logins["resident"]
    if resident.household_id is not None:
        actions.place_order(
            actor=resident,
            group_buy=gb,
            quantities={items[0].pk: 1, items[1].pk: 1},
            key="demo:order:resident",
        )
        counts["group-buy orders"] += 1
    ordering = _one_per_household(community, resident.household_id)
    for n, person in enumerate(ordering[:ORDERS]):
        quantities = {items[0].pk: rng.randint(1, 2)}
        if rng.random() < 0.6:
            quantities[items[1].pk] = rng.randint(1, 2)
        if rng.random() < 0.5:
            quantities[items[2].pk] = rng.randint(1, 3)
        if rng.random() < 0.3:
            quantities[items[3].pk] = 1
        actions.place_order(actor=person, group_buy=gb, quantities=quantities, key=f"demo:o{n}")
        counts["group-buy orders"] += 1

    # --- 集中检测: started ten minutes ago, batch 1 called ----------------------------------
    staff = logins["branch_head"]
    session = testing_actions.create_session(
        actor=staff,
        community=community,
        group=groups.get("风控消杀"),
        title="全员核酸检测",
        place="小区东门广场",
        starts_at=now - dt.timedelta(minutes=10),
        batch_size=10,
        buildings=buildings[:TESTING_BUILDINGS],
        key="demo:testing:1",
    )
    counts["testing sessions"] += 1
    batch = testing_actions.call_next_batch(actor=staff, session=session, key="demo:batch:1")
    called = list(
        session.queue.filter(batch=batch.number)
        .order_by("sequence")
        .values_list("household_id", flat=True)
    )
    for household_id in called[:CHECKED_IN]:
        testing_actions.check_in(actor=staff, session=session, household_id=household_id)

    # --- 文档: living SOPs ("1.0, 2.0, 3.0") ------------------------------------------------
    sop = documents.create_document(
        actor=staff,
        community=community,
        title="小区日常防疫 SOP",
        kind=DocumentKind.SOP_PREVENTION,
        visibility=Visibility.COMMUNITY,
        body=SOP_V1,
        summary="初版",
        key="demo:sop:prevention",
    )
    documents.publish_version(
        actor=staff,
        document=sop,
        based_on=1,
        body=SOP_V2,
        summary="增加快递消杀和独居老人每日问候",
        key="demo:sop:prevention:2",
    )
    documents.suggest_change(
        actor=resident,
        document=sop,
        base_version=2,
        body=SOP_V2 + "\n7. 每周公布一次各楼消杀记录，贴在单元门口。",
        reason="居民想知道自己楼有没有消杀过。",
        key="demo:sop:prevention:suggestion",
    )
    documents.create_document(
        actor=logins["group_leader"],
        community=community,
        group=groups.get("团长组"),
        title="团购 SOP",
        kind=DocumentKind.SOP_GROUP_BUY,
        visibility=Visibility.COMMUNITY,
        body=GROUP_BUY_SOP,
        summary="初版",
        key="demo:sop:group-buy",
    )
    counts["documents"] += 2

    # --- 问答: questions routed by keyword, the answer published as an FAQ ---------------------
    for category, words, group_name in (
        ("团购", "团购\n蔬菜\n配送\n到货", "团长组"),
        ("核酸", "核酸\n检测\n抗原", "风控消杀"),
    ):
        group = groups.get(group_name)
        if group is not None:
            helpdesk.save_rule(
                actor=staff, community=community, category=category, keywords=words, group=group
            )
    if resident.household_id is not None:
        asked = helpdesk.ask_question(
            actor=resident, text="团购的蔬菜什么时候到？", key="demo:question:1"
        )
        leader = logins["group_leader"]
        helpdesk.take_question(actor=leader, question=asked)
        helpdesk.answer_question(
            actor=leader,
            question=asked,
            answer="截单后第二天上午到货，物流组中午前送到各楼门口，到了会在平台通知。",
            key="demo:answer:1",
        )
        helpdesk.publish_faq(actor=leader, question=asked, key="demo:faq:1")
        helpdesk.ask_question(actor=resident, text="明天几点做核酸？", key="demo:question:2")
        counts["questions"] += 2
    return counts


SOP_V1 = """1. 每天上午 9 点前，各楼楼长在平台上报本楼健康情况。
2. 公共区域（电梯、楼道扶手、门把手）每天消杀两次，记录时间和人员。
3. 居民下楼做核酸时佩戴口罩，间隔 1 米排队。
4. 发现发热或身体不适的居民，楼长先电话联系，再报客服关爱组。
5. 生活垃圾每天定时收运，湿垃圾袋口扎紧。"""

SOP_V2 = (
    SOP_V1
    + """
6. 快递和团购物资到达后先在集中点消杀，静置 30 分钟再配送。
7. 独居老人由楼长或志愿者每天电话问候一次，有需求的在平台上发布求助。"""
)

GROUP_BUY_SOP = """1. 团长在平台开团：填写供应商、商品单价、库存、每户限购、截单时间和覆盖楼栋。
2. 居民在截单前在平台下单或修改订单；截单后不再接受修改。
3. 截单后导出供应商订单发给供应商；到货后按分拣单分拣，每户一个袋子贴标签。
4. 物流组按平台分配的楼栋无接触送货上门，送达后在平台上标记，居民确认收货。
5. 缺货的商品登记缺货并退款；每户的付款在平台登记，和供应商账单对账。"""


def _one_per_household(community: Community, skip: int | None) -> list[Person]:
    """One person per household (the first registered), other than the household ``skip``."""
    seen: set[int] = set()
    out: list[Person] = []
    people = Person.objects.filter(community=community, household__isnull=False, is_active=True)
    if skip is not None:
        people = people.exclude(household_id=skip)
    for p in people.order_by("household_id", "pk")[: ORDERS * 6]:
        if p.household_id is not None and p.household_id not in seen:
            seen.add(p.household_id)
            out.append(p)
    return out


__all__ = ["load_lockdown"]
