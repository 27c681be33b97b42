"""Issue 6 "Intake under a peak": past the intake gate's capacity an order submission is
answered at once with 429 and Retry-After (API: the error envelope; page: a localized page),
writes nothing, and goes through once a place is free; the gate is released however the
request ends. On PostgreSQL: a real submission held inside the gate (a test hook on the gate)
makes the next one wait for nothing, and the acknowledged order is in the database."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from huzhu.audit.models import AuditEntry
from huzhu.core.admission import Gate, Overloaded
from huzhu.lockdown.actions.orders import INTAKE
from huzhu.lockdown.models import Order, OrderLine
from huzhu.lockdown.tests.support import T0, at, group_buy

API = "/api/v1/lockdown"


@pytest.fixture
def one_place(settings: Any) -> Any:
    """The intake gate lets one submission in per process and refuses the next at once."""
    settings.HUZHU_INTAKE_MAX_INFLIGHT = 1
    settings.HUZHU_INTAKE_QUEUE_MS = 0
    settings.HUZHU_INTAKE_RETRY_AFTER = 2
    assert INTAKE.inside == 0
    yield INTAKE
    INTAKE.on_enter = None
    while INTAKE.inside:
        INTAKE.release()


def _order(client: Any, gb: Any, key: str) -> Any:
    veg = gb.items.get(name="蔬菜包")
    body = {"lines": [{"item_id": veg.pk, "quantity": 1}]}
    return client.post(
        f"{API}/group-buys/{gb.pk}/orders",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


# --- the gate itself -------------------------------------------------------------------------


def test_a_full_gate_refuses_at_once_and_admits_after_a_release() -> None:
    g = Gate("t", limit=1, wait=0)
    assert g.try_acquire()
    assert not g.try_acquire()
    assert g.refused == 1
    g.release()
    assert g.try_acquire()
    g.release()
    assert g.inside == 0


def test_a_waiting_request_takes_the_place_freed_within_its_wait() -> None:
    g = Gate("t", limit=1, wait=60, queue=1)
    assert g.try_acquire()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(g.try_acquire()))
    waiter.start()
    while g.waiting == 0:  # the waiter is queued
        threading.Event().wait(0.001)
    assert not g.try_acquire()  # the one waiting place is taken: refused without waiting
    g.release()
    waiter.join()
    assert got == [True] and g.inside == 1
    g.release()


def test_the_queue_is_bounded() -> None:
    g = Gate("t", limit=1, wait=60, queue=0)
    assert g.try_acquire()
    assert not g.try_acquire()  # no waiting place: refused without waiting
    g.release()


def test_the_gate_is_released_when_the_block_raises() -> None:
    g = Gate("t", limit=1, wait=0)
    with pytest.raises(ValueError), g.admit():
        raise ValueError("boom")
    assert g.inside == 0
    with g.admit():
        assert g.inside == 1
        with pytest.raises(Overloaded) as refused, g.admit():
            pass
    assert refused.value.status == 429 and refused.value.retry_after >= 1
    assert g.inside == 0


def test_retry_after_is_a_jittered_whole_number(settings: Any) -> None:
    settings.HUZHU_INTAKE_RETRY_AFTER = 3
    seen = {Gate("t").retry_after() for _ in range(200)}
    assert seen <= {3, 4, 5, 6} and len(seen) > 1


# --- the API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_answers_429_at_once_past_capacity_and_writes_nothing(
    client: Any, world: Any, cast: Any, one_place: Gate
) -> None:
    gb = group_buy(world, cast)
    with at(T0):
        client.force_login(cast.resident)
        assert one_place.try_acquire()  # another submission is inside the gate
        resp = _order(client, gb, "peak-1")
        assert resp.status_code == 429
        assert resp["Retry-After"] in {"2", "3", "4"}
        error = resp.json()["error"]
        assert error["code"] == "core.overloaded"
        assert "请" in error["message"] and "秒后重试" in error["message"]
        assert error["details"]["retry_after"] == int(resp["Retry-After"])
        assert not Order.objects.exists()
        assert not AuditEntry.objects.filter(code="lockdown.order.placed").exists()
        one_place.release()
        resp = _order(client, gb, "peak-1")  # the same key, later: placed
        assert resp.status_code == 201, resp.content
        order = Order.objects.get()
        assert resp.json()["id"] == order.pk and order.key == "peak-1"
    assert one_place.inside == 0


@pytest.mark.django_db
def test_api_gate_is_released_after_a_refused_rule_and_an_error(
    client: Any, world: Any, cast: Any, one_place: Gate
) -> None:
    gb = group_buy(world, cast)
    with at(T0):
        client.force_login(cast.resident)
        resp = client.post(
            f"{API}/group-buys/{gb.pk}/orders",
            json.dumps({"lines": [{"item_id": 999_999, "quantity": 1}]}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="bad-item",
        )
        assert resp.status_code == 400
        assert one_place.inside == 0

        def crash() -> None:
            raise RuntimeError("crash inside the gate")

        one_place.on_enter = crash
        with pytest.raises(RuntimeError):
            _order(client, gb, "crash")
        one_place.on_enter = None
        assert one_place.inside == 0
        assert _order(client, gb, "after").status_code == 201


@pytest.mark.django_db
def test_the_429_is_documented_in_the_schema(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    ops = [
        op
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        and op.get("operationId")
        in ("huzhu_lockdown_api_place_order", "huzhu_lockdown_api_edit_order")
    ]
    assert len(ops) == 2
    assert all("429" in op["responses"] for op in ops)


# --- the page --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_shows_the_localized_message_past_capacity(
    client: Any, world: Any, cast: Any, one_place: Gate
) -> None:
    gb = group_buy(world, cast)
    items = {i.name: i for i in gb.items.all()}
    form = {f"qty_{i.pk}": "0" for i in items.values()}
    form.update({f"qty_{items['蔬菜包'].pk}": "1", "key": "page-1"})
    url = f"/lockdown/group-buys/{gb.pk}/"
    with at(T0):
        client.force_login(cast.resident)
        assert one_place.try_acquire()
        resp = client.post(f"{url}order/", form)
        assert resp.status_code == 429
        assert int(resp["Retry-After"]) >= 1
        page = resp.content.decode()
        assert 'id="overloaded"' in page or "id='overloaded'" in page
        assert "秒后重试" in page and "您的提交尚未处理" in page
        assert f'href="{url}"' in page or f"href='{url}'" in page
        assert not Order.objects.exists()
        one_place.release()
        resp = client.post(f"{url}order/", form, follow=True)
        assert "下单成功" in resp.content.decode()
        assert Order.objects.count() == 1
    assert one_place.inside == 0


# --- PostgreSQL: a real submission held inside the gate --------------------------------------


@pytest.mark.postgres
def test_a_submission_inside_the_gate_makes_the_next_one_429_and_is_acknowledged_in_the_db(
    transactional_db: Any, world: Any, cast: Any, one_place: Gate
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two requests at once need PostgreSQL; set DATABASE_URL=postgres://...")
    from huzhu.accounts.models import Household, Person

    gb = group_buy(world, cast)
    other_home = Household.objects.create(
        community=world.community, building=world.building, room="1202"
    )
    neighbour = Person(name="邻居", community=world.community, household=other_home)
    neighbour.set_phone("13512340000")
    neighbour.set_unusable_password()
    neighbour.save()
    inside, go = threading.Event(), threading.Event()
    holder: dict[str, Any] = {}

    def hold() -> None:
        if threading.get_ident() == holder.get("thread"):
            inside.set()
            go.wait(60)

    def submit() -> None:
        holder["thread"] = threading.get_ident()
        try:
            c = Client()
            c.force_login(cast.resident)
            with at(T0):
                holder["resp"] = _order(c, gb, "held")
        finally:
            connections.close_all()

    one_place.on_enter = hold
    t = threading.Thread(target=submit)
    t.start()
    assert inside.wait(60)
    with at(T0):
        client = Client()
        client.force_login(neighbour)
        refused = _order(client, gb, "second")
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
        assert not Order.objects.filter(household=other_home).exists()
        go.set()
        t.join(60)
        resp = holder["resp"]
        assert resp.status_code == 201, resp.content
        acknowledged = resp.json()["id"]
        order = Order.objects.get(pk=acknowledged)  # the acknowledged order is in the database
        assert order.household_id == world.household.pk
        assert OrderLine.objects.filter(order=order).count() == 1
        assert _order(client, gb, "second").status_code == 201
    assert one_place.inside == 0
