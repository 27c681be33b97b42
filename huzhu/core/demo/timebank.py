"""The demo's time bank: service credited to volunteers (one first-service day among the
dates), members of both tiers with a referral, two merchants with agreements and a purchase
paid partly with points, paper-ledger slips (one checked, two waiting for the check) and last
month's leaderboard.

Unlike the rest of the demo, these rows go through the time bank's actions: ledger rows are
only ever written by them (balanced, idempotent, audited), so the demo's ledger reconciles like
a real one. Every key starts with ``demo:`` and the dates are relative to today.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from huzhu.accounts.models import Person
from huzhu.core import clock
from huzhu.orgs.models import Community
from huzhu.timebank import qr
from huzhu.timebank.actions import ledger, members, merchants, paper
from huzhu.timebank.models import Merchant, PaperKind, PaymentMethod, ServiceDay, Tier

HOURS = (Decimal("1"), Decimal("1.5"), Decimal("2"), Decimal("3"))
MERCHANTS = (
    ("惠民便利店", "超市", "3.00"),
    ("老街理发店", "理发", "4.00"),
)


def load_timebank(
    *,
    community: Community,
    volunteers: list[Person],
    logins: dict[str, Person],
    rng: random.Random,
) -> dict[str, int]:
    """Fill the first community's time bank; returns counts for the summary."""
    today = clock.today()
    branch_head = logins["branch_head"]
    finance = logins["finance_officer"]
    counts = {"service credits": 0, "members": 0, "merchants": 0, "paper slips": 0}

    first_day = today - dt.timedelta(days=40)
    ServiceDay.objects.create(
        community=community, date=first_day, name="首存日", created_by=branch_head
    )
    served = [logins["volunteer"], logins["resident"], *volunteers[:150]]
    for n, person in enumerate(served):
        for k in range(rng.randint(1, 3)):
            date = first_day if k == 0 and n % 5 == 0 else today - dt.timedelta(rng.randint(1, 70))
            ledger.credit_service(
                actor=None,
                volunteer=person,
                hours=rng.choice(HOURS),
                community=community,
                key=f"demo:service:{person.pk}:{k}",
                service_date=date,
                memo="社区志愿服务",
            )
            counts["service credits"] += 1

    fees = {t: members.fee_fen(t, community) for t in Tier.values}
    code = members.referral_code_for(logins["volunteer"])
    joiners = [
        (logins["volunteer"], Tier.COCREATE, None),
        (logins["resident"], Tier.TRIAL, code),
        *(
            (p, Tier.COCREATE if i % 4 == 0 else Tier.TRIAL, None)
            for i, p in enumerate(volunteers[150:170])
        ),
    ]
    for i, (person, tier, referral) in enumerate(joiners):
        members.join_membership(
            actor=finance,
            person=person,
            tier=tier,
            amount_fen=fees[tier],
            method=PaymentMethod.WECHAT if i % 2 else PaymentMethod.CASH,
            receipt_number=f"HZ{today:%Y}-{i + 1:04d}",
            paid_on=today - dt.timedelta(days=rng.randint(0, 200)),
            referral_code=referral,
            key=f"demo:join:{person.pk}",
        )
        counts["members"] += 1

    shops: list[Merchant] = []
    for name, category, fee in MERCHANTS:
        shop = merchants.create_merchant(
            actor=branch_head,
            community=community,
            name=name,
            category=category,
            address="社区商业街",
            key=f"demo:merchant:{name}",
        )
        merchants.sign_agreement(
            actor=branch_head,
            merchant=shop,
            fee_percent=Decimal(fee),
            starts_on=today - dt.timedelta(days=90),
            reference=f"XY-{today:%Y}-{len(shops) + 1:02d}",
            key=f"demo:agreement:{name}",
        )
        shops.append(shop)
        counts["merchants"] += 1
    merchant_login = logins["merchant"]
    merchants.add_staff(
        actor=branch_head,
        merchant=shops[0],
        phone=merchant_login.phone,
        key="demo:staff",
    )
    merchants.redeem(
        actor=merchant_login,
        merchant=shops[0],
        token=qr.make_token(logins["volunteer"]),
        purchase_fen=2_880,
        key="demo:redeem:1",
    )

    manager = logins["building_manager"]
    building = manager.household.building if manager.household else None
    elders = [
        p
        for p in Person.objects.filter(household__building=building, community=community)
        .exclude(pk__in=[x.pk for x in logins.values()])
        .order_by("pk")[:3]
    ]
    for i, elder in enumerate(elders):
        entry = paper.enter_paper_entry(
            actor=manager,
            person=elder,
            kind=PaperKind.EARN,
            service_date=today - dt.timedelta(days=i + 2),
            slip_number=f"1-{i + 1:03d}",
            hours=HOURS[i % len(HOURS)],
            note="帮邻居代购、陪同就医",
            key=f"demo:paper:{elder.pk}",
        )
        if i == 0:
            paper.check_paper_entry(actor=branch_head, entry=entry, approve=True)
        counts["paper slips"] += 1

    members.publish_leaderboard(community=community, month=merchants.previous_month(today))
    return counts
