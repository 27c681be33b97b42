"""Payments of a group buy: reversal of a mistaken record (undo by reversal, once, with a
reason), reconciliation after a reversal, the 收款 page (record, filter, search, paging,
reverse) and its API. The database constraint runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from huzhu.accounts.models import Household, Person
from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.core.errors import ConflictError, DomainError
from huzhu.lockdown import actions, queries
from huzhu.lockdown.models import GroupBuy, Order, Payment
from huzhu.lockdown.tests.support import DEADLINE, T0, at, group_buy
from huzhu.lockdown.views_payments import fen_of

API = "/api/v1/lockdown"


def _household(world: Any, room: str, building: Any = None) -> Person:
    b = building or world.building
    h = Household.objects.create(community=world.community, building=b, room=room)
    p = Person(name=f"住户{room}", community=world.community, household=h)
    p.set_phone(f"135{abs(hash((b.pk, room))) % 10**8:08d}")
    p.set_unusable_password()
    p.save()
    return p


def _setup(
    world: Any, cast: Any, rooms: tuple[str, ...] = (), key: str = "gb-1"
) -> tuple[GroupBuy, list[Order]]:
    """An open buy with the cast's resident (1号楼-101, one 蔬菜包 = 58.00) and one household
    per room of ``rooms`` (one 鸡蛋 = 26.50 each), closed at the deadline."""
    gb = group_buy(world, cast, key=key)
    items = {i.name: i for i in gb.items.all()}
    with at(T0):
        orders = [
            actions.place_order(
                actor=cast.resident, group_buy=gb, quantities={items["蔬菜包"].pk: 1}, key="r"
            )
        ]
        for room in rooms:
            orders.append(
                actions.place_order(
                    actor=_household(world, room),
                    group_buy=gb,
                    quantities={items["鸡蛋"].pk: 1},
                    key=f"o{room}",
                )
            )
    with at(DEADLINE):
        actions.close_group_buy(actor=cast.group_leader, group_buy=gb)
    gb.refresh_from_db()
    return gb, orders


def _pay(
    cast: Any, order: Order, amount: int, key: str = "p1", who: str = "finance_officer"
) -> Payment:
    with at(DEADLINE):
        return actions.record_payment(
            actor=cast[who], order=order, method="wechat", amount_fen=amount, key=key
        )


def _reverse(
    cast: Any, payment: Payment, key: str = "rv1", reason: str = "金额登记错了"
) -> Payment:
    with at(DEADLINE + dt.timedelta(minutes=5)):
        return actions.reverse_payment(
            actor=cast.finance_officer, payment=payment, reason=reason, key=key
        )


# --- the action --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reversal_is_a_linked_row_of_the_opposite_amount(world: Any, cast: Any) -> None:
    gb, (order,) = _setup(world, cast)
    p = _pay(cast, order, 5800)
    r = _reverse(cast, p)
    assert (r.amount_fen, r.method, r.reverses_id, r.reason) == (
        -5800,
        "wechat",
        p.pk,
        "金额登记错了",
    )
    assert (r.order_id, r.group_buy_id, r.recorded_by_id) == (
        order.pk,
        gb.pk,
        cast.finance_officer.pk,
    )
    p.refresh_from_db()
    assert p.amount_fen == 5800 and p.reversal.pk == r.pk  # the original is unchanged
    entry = AuditEntry.objects.get(code="lockdown.payment.reversed")
    assert entry.actor_id == cast.finance_officer.pk
    assert entry.target_id == str(r.pk) and entry.community_id == world.community.pk
    assert entry.new_values["reverses"] == p.pk and entry.new_values["amount_fen"] == -5800
    assert entry.new_values["reason"] == "金额登记错了"
    assert entry.old_values == {"payment": p.pk, "amount_fen": 5800}


@pytest.mark.django_db
def test_a_reason_is_required(world: Any, cast: Any) -> None:
    _, (order,) = _setup(world, cast)
    p = _pay(cast, order, 5800)
    for reason in ("", "   "):
        with pytest.raises(DomainError) as e:
            _reverse(cast, p, reason=reason)
        assert e.value.code == "lockdown.field.required" and e.value.details["field"] == "reason"
    with pytest.raises(DomainError) as e:
        _reverse(cast, p, reason="长" * 501)
    assert e.value.code == "lockdown.field.too_long"
    assert Payment.objects.count() == 1
    assert not AuditEntry.objects.filter(code="lockdown.payment.reversed").exists()


@pytest.mark.django_db
def test_once_replay_and_no_reversal_of_a_reversal(world: Any, cast: Any) -> None:
    _, (order,) = _setup(world, cast)
    p = _pay(cast, order, 5800)
    r = _reverse(cast, p, key="rv1")
    assert _reverse(cast, p, key="rv1").pk == r.pk  # a replay returns the reversal
    with pytest.raises(ConflictError) as e:
        _reverse(cast, p, key="rv2")
    assert e.value.code == "lockdown.payment.already_reversed"
    assert e.value.details["reversal_id"] == r.pk
    assert "不能重复撤销" in str(e.value.message)
    with pytest.raises(ConflictError) as e:
        _reverse(cast, r, key="rv3")
    assert e.value.code == "lockdown.payment.is_reversal"
    # The key of a payment cannot be used for the reversal of another one.
    p2 = _pay(cast, order, 5800, key="p2")
    with pytest.raises(ConflictError) as e:
        _reverse(cast, p2, key="p1")
    assert e.value.code == "lockdown.key.reused"
    assert Payment.objects.count() == 3
    assert AuditEntry.objects.filter(code="lockdown.payment.reversed").count() == 1


@pytest.mark.django_db
def test_who_may_reverse(world: Any, cast: Any) -> None:
    _, (order,) = _setup(world, cast)
    p = _pay(cast, order, 1000)
    for role in ("resident", "group_member", "volunteer", "building_manager", "district_admin"):
        with pytest.raises(PermissionDenied), at(DEADLINE):
            actions.reverse_payment(actor=cast[role], payment=p, reason="错了", key=role)
    with pytest.raises(Http404), at(DEADLINE):
        actions.reverse_payment(actor=cast.outsider, payment=p, reason="错了", key="o")
    for i, role in enumerate(("group_leader", "branch_head")):
        q = _pay(cast, order, 100 + i, key=f"q{i}")
        with at(DEADLINE):
            r = actions.reverse_payment(actor=cast[role], payment=q, reason="错了", key=role)
        assert r.amount_fen == -(100 + i)


@pytest.mark.django_db
def test_reconciliation_after_a_reversal(world: Any, cast: Any) -> None:
    """A reversed payment counts as unpaid again; the correct payment can then be recorded."""
    gb, (o1, o2) = _setup(world, cast, rooms=("102",))
    with at(DEADLINE):
        actions.record_supplier_bill(actor=cast.group_leader, group_buy=gb, amount_fen=5800 + 2650)
    gb.refresh_from_db()
    wrong = _pay(cast, o1, 5800, key="p1")  # recorded on the wrong household's order
    _pay(cast, o2, 2650, key="p2")
    rec = queries.reconciliation(gb)
    assert (rec.unpaid_fen, rec.unpaid_households, rec.paid_fen) == (0, 0, 8450)
    assert rec.balanced
    # o1's household had not paid: the record must go, but a new one would be "too much".
    with pytest.raises(DomainError) as e:
        _pay(cast, o1, 5800, key="p3")
    assert e.value.code == "lockdown.payment.too_much"

    _reverse(cast, wrong)
    rec = queries.reconciliation(gb)
    assert (rec.paid_fen, rec.unpaid_fen, rec.unpaid_households) == (2650, 5800, 1)
    assert rec.collected_net_fen == 2650 and rec.difference_fen == -5800 and not rec.balanced
    labels = {lb.order_id: lb.paid for lb in queries.labels(gb)}
    assert labels == {o1.pk: False, o2.pk: True}

    _pay(cast, o1, 5000, key="p3", who="group_leader")  # paid in cash, part of it
    _pay(cast, o1, 800, key="p4")
    rec = queries.reconciliation(gb)
    assert (rec.paid_fen, rec.unpaid_fen, rec.unpaid_households, rec.to_return_fen) == (
        8450,
        0,
        0,
        0,
    )
    assert rec.balanced
    assert all(lb.paid for lb in queries.labels(gb))


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_negative_payment_that_is_no_reversal(world: Any, cast: Any) -> None:
    """The check constraint, on SQLite and (DATABASE_URL=postgres://…) on PostgreSQL."""
    _, (order,) = _setup(world, cast)
    p = _pay(cast, order, 5800)
    base = {
        "group_buy_id": order.group_buy_id,
        "order": order,
        "method": "cash",
        "recorded_by": cast.finance_officer,
        "created_at": clock.now(),
    }
    bad = [
        {"amount_fen": -100, "key": "neg"},  # negative, not a reversal
        {"amount_fen": 0, "key": "zero"},
        {"amount_fen": 100, "reverses": p, "key": "pos-rev"},  # a reversal must be negative
        {"amount_fen": 0, "reverses": p, "key": "zero-rev"},
    ]
    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.create(**base, **fields)
    Payment.objects.create(**base, amount_fen=-5800, reverses=p, key="ok")
    # One reversal per payment, in the database too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(**base, amount_fen=-5800, reverses=p, key="again")
    assert Payment.objects.count() == 2
    if connection.vendor == "postgresql":
        from django.db import DatabaseError

        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE lockdown_payment SET reason = 'x'")


@pytest.mark.postgres
def test_concurrent_reversals_make_one(transactional_db: Any, world: Any, cast: Any) -> None:
    """Several reversals of one payment at once, each with its own key: exactly one wins."""
    if connection.vendor != "postgresql":
        pytest.skip(f"row locks need PostgreSQL (this run uses {connection.vendor})")
    from huzhu.timebank.tests.threads import in_threads

    _, (order,) = _setup(world, cast)
    p = _pay(cast, order, 5800)

    def work(i: int) -> str:
        try:
            actions.reverse_payment(
                actor=cast.finance_officer, payment=p, reason="错了", key=f"k{i}"
            )
        except DomainError as exc:
            return exc.code
        return "ok"

    results, errors = in_threads(6, work)
    assert not errors
    assert sorted(results) == ["lockdown.payment.already_reversed"] * 5 + ["ok"]
    assert Payment.objects.filter(reverses=p).count() == 1


# --- the page ----------------------------------------------------------------------------------


def test_fen_of_is_exact() -> None:
    assert fen_of("58") == 5800
    assert fen_of(" 58.5 ") == 5850
    assert fen_of("58.05") == 5805
    assert fen_of("0.1") == 10
    assert fen_of("0.29") == 29  # 0.29 * 100 == 28.999… as a float
    assert fen_of("19.99") == 1999
    for bad in ("", "abc", "1.234", "-1", "1e3", "1,5", ".5", "1.", "123456789"):
        assert fen_of(bad) is None, bad


@pytest.mark.django_db
def test_the_page_flow(client: Any, world: Any, cast: Any) -> None:
    gb, (o1, o2) = _setup(world, cast, rooms=("102",))
    url = f"/lockdown/group-buys/{gb.pk}/payments/"
    client.force_login(cast.finance_officer)
    with at(DEADLINE):
        page = client.get(url).content.decode()
        assert f'id="order-{o1.pk}"' in page and f'id="order-{o2.pk}"' in page
        assert 'value="58.00"' in page  # the outstanding amount by default
        assert 'id="payment-totals"' in page and "2 户未付清，共 84.50 元" in page

        # A mistake: 26.50 recorded on 101's order while filtered to unpaid, page kept.
        resp = client.post(
            f"/lockdown/orders/{o1.pk}/payments/?status=unpaid&q=1号楼&page=1",
            {"method": "cash", "amount": "26.50", "key": "k1"},
        )
        assert resp.status_code == 302
        assert resp["Location"] == (
            f"{url}?page=1&q=1%E5%8F%B7%E6%A5%BC&status=unpaid#order-{o1.pk}"
        )
        p = Payment.objects.get()
        assert (p.amount_fen, p.method, p.order_id) == (2650, "cash", o1.pk)
        # A replay of the form records nothing more.
        client.post(
            f"/lockdown/orders/{o1.pk}/payments/",
            {"method": "cash", "amount": "26.50", "key": "k1"},
        )
        assert Payment.objects.count() == 1

        # Bad amounts and methods become messages.
        for amount, method, text in (
            ("26.505", "cash", "金额格式不正确"),
            ("abc", "cash", "金额格式不正确"),
            ("0", "cash", "必须是正整数"),
            ("100.00", "cash", "付款金额超过订单应付金额"),
            ("1.00", "bitcoin", "支付方式无效"),
        ):
            resp = client.post(
                f"/lockdown/orders/{o1.pk}/payments/",
                {"method": method, "amount": amount, "key": f"bad-{amount}"},
                follow=True,
            )
            assert text in resp.content.decode(), amount
        assert Payment.objects.count() == 1

        # 101 still owes 31.50; 102 owes 26.50. Filters.
        unpaid = client.get(url, {"status": "unpaid"}).content.decode()
        assert f'id="order-{o1.pk}"' in unpaid and 'value="31.50"' in unpaid
        client.post(
            f"/lockdown/orders/{o2.pk}/payments/",
            {"method": "alipay", "amount": "26.5", "key": "k2"},
        )
        paid = client.get(url, {"status": "paid"}).content.decode()
        assert f'id="order-{o2.pk}"' in paid and f'id="order-{o1.pk}"' not in paid
        unpaid = client.get(url, {"status": "unpaid"}).content.decode()
        assert f'id="order-{o1.pk}"' in unpaid and f'id="order-{o2.pk}"' not in unpaid

        # Reverse the mistaken record: a reason is required.
        rev = f"/lockdown/payments/{p.pk}/reverse/"
        resp = client.post(rev, {"reason": " ", "key": "r1"}, follow=True)
        assert "此项为必填项" in resp.content.decode()
        resp = client.post(f"{rev}?status=paid", {"reason": "记错了户", "key": "r1"})
        assert resp["Location"] == f"{url}?status=paid#order-{o1.pk}"
        r = Payment.objects.get(reverses=p)
        assert r.amount_fen == -2650 and r.reason == "记错了户"
        page = client.get(url).content.decode()
        assert "已撤销" in page and "撤销记录：记错了户" in page and "-26.50" in page
        assert 'value="58.00"' in page  # 101 owes the whole amount again
        resp = client.post(rev, {"reason": "再撤一次", "key": "r2"}, follow=True)
        assert "不能重复撤销" in resp.content.decode()

        # Then the right payment.
        client.post(
            f"/lockdown/orders/{o1.pk}/payments/",
            {"method": "wechat", "amount": "58.00", "key": "k3"},
        )
        rec = queries.reconciliation(gb)
        assert rec.unpaid_fen == 0 and rec.paid_fen == 5800 + 2650
        page = client.get(url, {"status": "unpaid"}).content.decode()
        assert 'id="payments-empty"' in page and "没有符合条件的订单" in page
    codes = list(
        AuditEntry.objects.filter(code__startswith="lockdown.payment.").values_list(
            "code", flat=True
        )
    )
    assert sorted(codes) == ["lockdown.payment.recorded"] * 3 + ["lockdown.payment.reversed"]


@pytest.mark.django_db
def test_search_paging_and_empty_state(client: Any, world: Any, cast: Any, settings: Any) -> None:
    settings.HUZHU_PAGE_SIZE = 2
    gb = group_buy(world, cast)
    client.force_login(cast.group_leader)
    url = f"/lockdown/group-buys/{gb.pk}/payments/"
    page = client.get(url).content.decode()
    assert 'id="payments-empty"' in page and "这个团购还没有订单" in page

    eggs = gb.items.get(name="鸡蛋")
    b2 = world.community.buildings.get(name="2号楼")
    with at(T0):
        for room, building in (("102", None), ("103", None), ("102", b2)):
            actions.place_order(
                actor=_household(world, room, building),
                group_buy=gb,
                quantities={eggs.pk: 1},
                key=f"{room}-{building}",
            )
    first = client.get(url).content.decode()
    assert first.count('class="card" id="order-') == 2 and 'rel="next"' in first
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('class="card" id="order-') == 1 and 'rel="prev"' in second
    assert client.get(url, {"q": "102"}).content.decode().count('class="card" id="order-') == 2
    one = client.get(url, {"q": "2号楼 102"}).content.decode()
    assert one.count('class="card" id="order-') == 1 and "2号楼 102" in one
    assert (
        client.get(url, {"q": "2号楼-102"}).content.decode().count('class="card" id="order-') == 1
    )
    assert client.get(url, {"q": "1号楼"}).content.decode().count('class="card" id="order-') == 2
    none = client.get(url, {"q": "999"}).content.decode()
    assert 'id="payments-empty"' in none and "没有符合条件的订单" in none
    # An unknown filter shows everything.
    assert client.get(url, {"status": "nope"}).status_code == 200


@pytest.mark.django_db
def test_the_page_has_a_fixed_number_of_queries(client: Any, world: Any, cast: Any) -> None:
    """The same number of queries for one household as for four with reversals."""
    client.force_login(cast.finance_officer)
    counts = []
    for key, rooms in (("gb-small", ()), ("gb-big", ("102", "103", "104"))):
        gb, orders = _setup(world, cast, rooms=rooms, key=key)
        for o in orders:
            _pay(cast, o, 100, key=f"a{o.pk}")
            if rooms:
                _reverse(cast, _pay(cast, o, 200, key=f"b{o.pk}"), key=f"c{o.pk}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/lockdown/group-buys/{gb.pk}/payments/").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_rights_and_the_link(client: Any, world: Any, cast: Any) -> None:
    gb, (order,) = _setup(world, cast)
    p = _pay(cast, order, 100)
    url = f"/lockdown/group-buys/{gb.pk}/payments/"
    for role in ("finance_officer", "group_leader", "branch_head"):
        client.force_login(cast[role])
        assert client.get(url).status_code == 200, role
        assert 'id="payments-link"' in client.get(f"/lockdown/group-buys/{gb.pk}/").content.decode()
    for role in ("group_member", "resident", "district_admin", "building_manager"):
        client.force_login(cast[role])
        assert client.get(url).status_code == 403, role
        assert (
            client.post(
                f"/lockdown/orders/{order.pk}/payments/",
                {"amount": "1", "method": "cash", "key": role},
            ).status_code
            == 403
        )
        assert (
            client.post(
                f"/lockdown/payments/{p.pk}/reverse/", {"reason": "x", "key": role}
            ).status_code
            == 403
        )
    client.force_login(cast.group_member)  # sees the leader's card, not the link
    detail = client.get(f"/lockdown/group-buys/{gb.pk}/").content.decode()
    assert 'id="leader-card"' in detail and 'id="payments-link"' not in detail
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    assert (
        client.post(f"/lockdown/payments/{p.pk}/reverse/", {"reason": "x", "key": "o"}).status_code
        == 404
    )
    assert Payment.objects.count() == 1


# --- the API -----------------------------------------------------------------------------------


def _post(client: Any, url: str, body: dict[str, Any], key: str | None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_the_api(client: Any, world: Any, cast: Any) -> None:
    gb, (o1, o2) = _setup(world, cast, rooms=("102",))
    p1 = _pay(cast, o1, 5800, key="p1")
    _pay(cast, o2, 2650, key="p2")
    client.force_login(cast.finance_officer)
    with at(DEADLINE):
        resp = _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": "重复登记"}, "rv")
        assert resp.status_code == 201, resp.content
        body = resp.json()
        assert body["amount_fen"] == -5800 and body["reverses_id"] == p1.pk
        assert body["reason"] == "重复登记" and body["recorded_by"] == cast.finance_officer.name
        assert (body["building"], body["room"], body["method"]) == ("1号楼", "101", "wechat")
        again = _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": "重复登记"}, "rv")
        assert again.status_code == 200 and again.json()["id"] == body["id"]
        twice = _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": "再来"}, "rv2")
        assert twice.status_code == 409
        assert twice.json()["error"]["code"] == "lockdown.payment.already_reversed"
        no_reason = _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": ""}, "rv3")
        assert no_reason.status_code == 422
        no_key = _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": "x"}, None)
        assert no_key.status_code == 400
        # The body field works as the key too.
        p3 = _pay(cast, o1, 5800, key="p3")
        resp = _post(
            client,
            f"{API}/payments/{p3.pk}/reverse",
            {"reason": "x", "idempotency_key": "b1"},
            None,
        )
        assert resp.status_code == 201

        listed = client.get(f"{API}/group-buys/{gb.pk}/payments", {"page_size": 2}).json()
        assert listed["meta"] == {"page": 1, "page_size": 2, "total": 5}
        assert len(listed["items"]) == 2
        everything = client.get(f"{API}/group-buys/{gb.pk}/payments").json()["items"]
        by_id = {x["id"]: x for x in everything}
        assert by_id[p1.pk]["reversed_by_id"] == body["id"]
        assert by_id[body["id"]]["reverses_id"] == p1.pk
        assert sum(x["amount_fen"] for x in everything) == 2650
        mine = client.get(f"{API}/group-buys/{gb.pk}/payments", {"order_id": o2.pk}).json()
        assert [x["order_id"] for x in mine["items"]] == [o2.pk]
        rec = client.get(f"{API}/group-buys/{gb.pk}/reconciliation").json()
        assert rec["unpaid_fen"] == 5800 and rec["unpaid_households"] == 1

        client.force_login(cast.group_member)
        assert client.get(f"{API}/group-buys/{gb.pk}/payments").status_code == 403
        client.force_login(cast.outsider)
        assert client.get(f"{API}/group-buys/{gb.pk}/payments").status_code == 404
        assert (
            _post(client, f"{API}/payments/{p1.pk}/reverse", {"reason": "x"}, "o").status_code
            == 404
        )
