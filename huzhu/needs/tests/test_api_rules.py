"""The needs API's rules: errors in the one envelope with a Chinese message (English with
Accept-Language: en), the idempotency key and what a replay answers, 404 outside the scope and
403 inside it, on-behalf publishing, the lists and their filters, cancel and no-show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from huzhu.audit.models import AuditEntry
from huzhu.needs.models import Need, Rating
from huzhu.needs.tests.support import T0, at, need_type, volunteer
from huzhu.needs.tests.test_api_loop import V1, api, balance, need_body, ok, to_accepted
from huzhu.timebank.models import Transaction

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
__all__ = ["api"]  # the fixture, imported for the tests below


def error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.content.decode()
    body: dict[str, Any] = resp.json()["error"]
    assert body["code"] == code
    return body


def _published(api: Any, cast: Any, start: dt.datetime = T0 + 3 * H, **kw: Any) -> int:
    key = f"p:{start.isoformat()}:{sorted(kw.items())}"  # one key per distinct need
    return int(ok(api(cast.resident, "post", V1, need_body(start, **kw), key=key), 201)["id"])


# --- errors ----------------------------------------------------------------------------------


def test_bad_rating_in_chinese_and_english(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        need_id, _ = to_accepted(api, cast)
    with at(T0 + 5 * H):
        ok(api(cast.resident, "post", f"{V1}/{need_id}/confirm", {}, key="c"))
        url = f"{V1}/{need_id}/rate"
        zh = error(
            api(cast.resident, "post", url, {"stars": 6}, key="s"), 400, "needs.rating.invalid"
        )
        assert zh["message"] == "评分须为 1 到 5 星。" and zh["details"] == {"field": "stars"}
        en = error(
            api(cast.resident, "post", url, {"stars": 0}, key="s", lang="en"),
            400,
            "needs.rating.invalid",
        )
        assert en["message"] == "The rating must be 1 to 5 stars."
        # Not a number at all: the schema's envelope.
        bad = error(api(cast.resident, "post", url, {"stars": "五"}, key="s"), 422, "invalid")
        assert bad["message"] == "提交的数据格式不正确。"
        ok(api(cast.resident, "post", url, {"stars": 4, "comment": "准时"}, key="s"))
        # Rated: the same rating again is a replay, a different one is refused.
        assert ok(api(cast.resident, "post", url, {"stars": 4, "comment": "准时"}, key="s"))
        again = error(
            api(cast.resident, "post", url, {"stars": 1}, key="s2"), 409, "needs.need.bad_state"
        )
        assert "已评价" in again["message"]
    assert Rating.objects.get().stars == 4


def test_missing_reason_in_chinese_and_english(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        need_id = _published(api, cast)
        url = f"{V1}/{need_id}/review"
        zh = error(
            api(cast.building_manager, "post", url, {"approve": False}, key="r"),
            400,
            "needs.reason.required",
        )
        assert zh["message"] == "请填写此项。" and zh["details"] == {"field": "reason"}
        en = error(
            api(
                cast.building_manager,
                "post",
                url,
                {"approve": False, "reason": " "},
                key="r",
                lang="en",
            ),
            400,
            "needs.reason.required",
        )
        assert en["message"] == "Please fill in this field."
        rejected = ok(
            api(
                cast.building_manager,
                "post",
                url,
                {"approve": False, "reason": "重复发布"},
                key="r",
            )
        )
        assert rejected["state"] == "rejected" and rejected["reject_reason"] == "重复发布"
        # Replayed: the same answer; approving it now is refused.
        again = api(
            cast.building_manager, "post", url, {"approve": False, "reason": "重复发布"}, key="r"
        )
        assert ok(again) == rejected
        error(
            api(cast.building_manager, "post", url, {"approve": True}, key="r2"),
            409,
            "needs.need.bad_state",
        )
        # Cancel and decline need a reason too.
        error(
            api(
                cast.resident,
                "post",
                f"{V1}/{_published(api, cast, T0 + 4 * H)}/cancel",
                {},
                key="x",
            ),
            400,
            "needs.reason.required",
        )
    assert AuditEntry.objects.filter(code="needs.need.rejected").count() == 1


def test_cancel_too_late_and_in_time(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        need_id, _ = to_accepted(api, cast)  # starts at T0 + 3h
    url = f"{V1}/{need_id}/cancel"
    with at(T0 + 2 * H):  # one hour before: under the 2 hours' notice
        body = error(
            api(cast.resident, "post", url, {"reason": "临时有事"}, key="x"),
            409,
            "needs.need.cancel_too_late",
        )
        assert body["message"].startswith("距服务开始已不足 2 小时，不能取消。")
        assert body["details"] == {"notice_hours": 2}
    assert Need.objects.get(pk=need_id).state == "accepted"
    with at(T0 + 30 * dt.timedelta(minutes=1)):
        cancelled = ok(api(cast.resident, "post", url, {"reason": "临时有事"}, key="x"))
        assert cancelled["state"] == "cancelled"
        assert ok(api(cast.resident, "post", url, {"reason": "临时有事"}, key="x")) == cancelled
    assert AuditEntry.objects.filter(code="needs.need.cancelled").count() == 1


def test_other_envelope_errors(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        # No idempotency key: nothing published.
        missing = error(
            api(cast.resident, "post", V1, need_body(T0 + H)), 400, "api.idempotency_key.required"
        )
        assert "Idempotency-Key" in missing["message"]
        assert not Need.objects.exists()
        # The body field stands in for the header.
        ok(api(cast.resident, "post", V1, need_body(T0 + H, idempotency_key="k")), 201)
        error(
            api(cast.resident, "post", V1, need_body(T0 + H, need_type="nope"), key="k"),
            400,
            "needs.type.unknown",
        )
        error(api(cast.resident, "post", V1, need_body(T0 - H), key="k2"), 400, "needs.window.past")
        error(api(cast.resident, "get", f"{V1}?state=bogus"), 400, "needs.filter.state")
        error(api(cast.volunteer, "get", f"{V1}/inbox?state=bogus"), 400, "needs.filter.state")
        error(
            api(
                cast.resident,
                "post",
                V1,
                need_body(T0 + H, pay_with_points=True, points=500),
                key="k3",
            ),
            409,
            "needs.points.insufficient",
        )


# --- scope -----------------------------------------------------------------------------------


def test_detail_404_outside_scope_403_inside(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        need_id = _published(api, cast)
        url = f"{V1}/{need_id}"
        for role in ("resident", "building_manager", "broker", "branch_head", "district_admin"):
            assert ok(api(cast[role], "get", url))["id"] == need_id, role
        for role in ("volunteer", "group_member", "finance_officer", "merchant"):
            error(api(cast[role], "get", url), 403, "forbidden")
        error(api(cast.outsider, "get", url), 404, "not_found")
        error(api(cast.resident, "get", f"{V1}/999999"), 404, "not_found")
        assert api(None, "get", url).status_code == 401
        # Offered to the volunteer: now they see it, with their own assignment only.
        other = volunteer(world, "王师傅", phone="13700000001")
        ok(api(cast.building_manager, "post", f"{url}/review", {"approve": True}, key="r"))
        ok(
            api(
                cast.building_manager,
                "post",
                f"{url}/offer",
                {"volunteer_ids": [cast.volunteer.pk, other.pk]},
                key="o",
            ),
            201,
        )
        seen = ok(api(cast.volunteer, "get", url))
        assert [a["volunteer_id"] for a in seen["assignments"]] == [cast.volunteer.pk]
        managed = ok(api(cast.building_manager, "get", url))
        assert len(managed["assignments"]) == 2
        assert ok(api(cast.resident, "get", url))["assignments"] == []  # nobody accepted yet


def test_writes_need_the_party_or_the_permission(api: Any, cast: Any, world: Any) -> None:
    other = volunteer(world, "王师傅", phone="13700000001")
    with at(T0):
        need_id = _published(api, cast)
        url = f"{V1}/{need_id}"
        error(
            api(cast.volunteer, "post", f"{url}/review", {"approve": True}, key="r"),
            403,
            "forbidden",
        )
        error(
            api(cast.broker, "post", f"{url}/review", {"approve": True}, key="r"), 403, "forbidden"
        )
        error(
            api(cast.outsider, "post", f"{url}/review", {"approve": True}, key="r"),
            404,
            "not_found",
        )
        ok(api(cast.building_manager, "post", f"{url}/review", {"approve": True}, key="r"))
        body = {"volunteer_ids": [cast.volunteer.pk, other.pk]}
        error(api(cast.resident, "post", f"{url}/offer", body, key="o"), 403, "forbidden")
        error(
            api(cast.broker, "post", f"{url}/offer", {"volunteer_ids": [999999]}, key="o"),
            400,
            "needs.volunteer.unknown",
        )
        opened = ok(api(cast.broker, "post", f"{url}/offer", body, key="o"), 201)["assignments"]
        mine, theirs = (f"{V1}/assignments/{a['id']}" for a in opened)
        # Another volunteer asked for the same need may not answer for them.
        error(api(other, "post", f"{mine}/accept", {}, key="a"), 403, "needs.assignment.not_yours")
        error(
            api(cast.building_manager, "post", f"{mine}/accept", {}, key="a"),
            403,
            "needs.assignment.not_yours",
        )
        error(api(cast.outsider, "post", f"{mine}/accept", {}, key="a"), 404, "not_found")
        error(
            api(cast.volunteer, "post", f"{V1}/assignments/999999/accept", {}, key="a"),
            404,
            "not_found",
        )
        ok(api(cast.volunteer, "post", f"{mine}/accept", {}, key="a"))
        # The first to accept wins; the other is told it is taken.
        taken = error(api(other, "post", f"{theirs}/accept", {}, key="a"), 409, "needs.need.taken")
        assert taken["message"] == "已被他人接单。"
        # Confirm: not the volunteer; a manager only with the slip number.
        error(api(cast.volunteer, "post", f"{url}/confirm", {}, key="c"), 403, "forbidden")
        slip = error(
            api(cast.building_manager, "post", f"{url}/confirm", {}, key="c"),
            400,
            "needs.slip.required",
        )
        assert slip["details"] == {"field": "slip_number"}


def test_decline_replay_and_rematch(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        need_id = _published(api, cast)
        ok(api(cast.building_manager, "post", f"{V1}/{need_id}/review", {"approve": True}, key="r"))
        offer = {"volunteer_ids": [cast.volunteer.pk]}
        opened = ok(
            api(cast.building_manager, "post", f"{V1}/{need_id}/offer", offer, key="o"), 201
        )
        a_url = f"{V1}/assignments/{opened['assignments'][0]['id']}"
        error(
            api(cast.volunteer, "post", f"{a_url}/decline", {}, key="d"),
            400,
            "needs.reason.required",
        )
        declined = ok(
            api(cast.volunteer, "post", f"{a_url}/decline", {"reason": "那天出差"}, key="d")
        )
        assert declined["assignment"]["state"] == "declined"
        assert declined["assignment"]["decline_reason"] == "那天出差"
        assert declined["need"]["state"] == "approved"  # back to be matched again
        assert (
            ok(api(cast.volunteer, "post", f"{a_url}/decline", {"reason": "那天出差"}, key="d"))
            == declined
        )
        # Offering to them again is a replay: they already answered; nobody is told twice.
        again = ok(api(cast.building_manager, "post", f"{V1}/{need_id}/offer", offer, key="o2"))
        assert again["assignments"][0]["state"] == "declined"
        error(
            api(cast.volunteer, "post", f"{a_url}/accept", {}, key="a"), 409, "needs.need.bad_state"
        )
    assert AuditEntry.objects.filter(code="needs.assignment.declined").count() == 1


def test_check_out_before_check_in_is_refused(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        _, a = to_accepted(api, cast)
        error(
            api(cast.volunteer, "post", f"{V1}/assignments/{a}/check-out", {}, key="o"),
            409,
            "needs.check_out.not_in_service",
        )


# --- on behalf -------------------------------------------------------------------------------


def test_publish_on_behalf(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        body = need_body(T0 + 3 * H, on_behalf_of=cast.resident.pk)
        need = ok(api(cast.broker, "post", V1, body, key="b"), 201)
        assert need["requester_id"] == cast.resident.pk
        assert need["published_by_id"] == cast.broker.pk and need["on_behalf"] is True
        assert need["building"] == "阳光小区 1号楼"
        entry = AuditEntry.objects.get(code="needs.need.published")
        assert entry.on_behalf_of_id == cast.resident.pk
        error(api(cast.volunteer, "post", V1, body, key="v"), 403, "forbidden")
        error(api(cast.outsider, "post", V1, body, key="o"), 404, "not_found")
        error(
            api(cast.broker, "post", V1, {**body, "on_behalf_of": 999999}, key="n"),
            404,
            "not_found",
        )
        # The resident sees it among their own.
        mine = ok(api(cast.resident, "get", f"{V1}?mine=true"))
        assert [n["id"] for n in mine["items"]] == [need["id"]]


def test_a_free_address_is_never_returned(api: Any, cast: Any, world: Any) -> None:
    with at(T0):
        body = need_body(
            T0 + 3 * H, address_detail="幸福路8号3楼", latitude="31.24", longitude="121.48"
        )
        resp = api(cast.resident, "post", V1, body, key="p")
        need = ok(resp, 201)
        assert "幸福路" not in resp.content.decode() and need["building"] == ""
        detail = api(cast.building_manager, "get", f"{V1}/{need['id']}")
    assert Need.objects.get().address_detail == "幸福路8号3楼"
    # No building: the building manager has no view of it; the branch head has.
    assert detail.status_code == 403
    assert "幸福路" not in api(cast.branch_head, "get", f"{V1}/{need['id']}").content.decode()


# --- lists -----------------------------------------------------------------------------------


def test_list_scope_filters_and_paging(api: Any, cast: Any, world: Any) -> None:
    need_type("repair", "维修")
    with at(T0):
        first = _published(api, cast)
        second = int(
            ok(
                api(cast.resident, "post", V1, need_body(T0 + 5 * H, need_type="repair"), key="q"),
                201,
            )["id"]
        )
        ok(api(cast.building_manager, "post", f"{V1}/{first}/review", {"approve": True}, key="r"))
        ok(
            api(
                cast.building_manager,
                "post",
                f"{V1}/{first}/offer",
                {"volunteer_ids": [cast.volunteer.pk]},
                key="o",
            ),
            201,
        )

        def ids(person: Any, query: str = "") -> list[int]:
            return [n["id"] for n in ok(api(person, "get", f"{V1}{query}"))["items"]]

        assert ids(cast.resident) == [second, first]  # latest start first
        assert ids(cast.building_manager) == [second, first]
        assert ids(cast.broker) == [second, first]
        assert ids(cast.volunteer) == [first]  # offered to them
        assert ids(cast.group_member) == []
        assert ids(cast.outsider) == []
        assert ids(cast.resident, "?state=offered") == [first]
        assert ids(cast.resident, "?type=repair") == [second]
        assert ids(cast.building_manager, "?mine=true") == []
        page = ok(api(cast.resident, "get", f"{V1}?page=2&page_size=1"))
        assert page["meta"] == {"page": 2, "page_size": 1, "total": 2}
        assert [n["id"] for n in page["items"]] == [first]
        inbox = ok(api(cast.volunteer, "get", f"{V1}/inbox"))
        assert [i["need_id"] for i in inbox["items"]] == [first]
        assert ok(api(cast.resident, "get", f"{V1}/inbox"))["items"] == []


# --- no-show ---------------------------------------------------------------------------------


def test_no_show_takes_the_penalty_once(api: Any, cast: Any, world: Any) -> None:
    from huzhu.needs.tests.support import give_points

    give_points(cast.volunteer, world, 10, "seed")
    with at(T0):
        need_id, _ = to_accepted(api, cast)
        url = f"{V1}/{need_id}/no-show"
        early = error(
            api(cast.building_manager, "post", url, {}, key="n"), 400, "needs.no_show.too_early"
        )
        assert early["message"] == "服务尚未开始，不能记为爽约。"
    with at(T0 + 4 * H):
        error(api(cast.resident, "post", url, {}, key="n"), 403, "forbidden")
        done = ok(api(cast.building_manager, "post", url, {"note": "电话未接"}, key="n"))
        assert done["state"] == "no_show"
        assert ok(api(cast.building_manager, "post", url, {"note": "电话未接"}, key="n")) == done
    # −5 points, once.
    assert balance(cast.volunteer)[0] == 500
    assert Transaction.objects.filter(idempotency_key=f"need:{need_id}:no_show").count() == 1


def test_lists_are_lean(api: Any, cast: Any, world: Any) -> None:
    """The number of queries of a list page does not grow with its rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(person: Any, path: str) -> int:
        ok(api(person, "get", path))  # the token's first use is written once
        with CaptureQueriesContext(connection) as ctx:
            ok(api(person, "get", path))
        return len(ctx.captured_queries)

    with at(T0):
        for i in range(2):
            _offered_to_volunteer(api, cast, T0 + (3 + i) * H, f"a{i}")
        few = (count(cast.building_manager, V1), count(cast.volunteer, f"{V1}/inbox"))
        for i in range(2, 6):
            _offered_to_volunteer(api, cast, T0 + (3 + i) * H, f"a{i}")
        many = (count(cast.building_manager, V1), count(cast.volunteer, f"{V1}/inbox"))
    assert few == many


def _offered_to_volunteer(api: Any, cast: Any, start: dt.datetime, key: str) -> None:
    need = ok(api(cast.resident, "post", V1, need_body(start), key=key), 201)
    url = f"{V1}/{need['id']}"
    ok(api(cast.building_manager, "post", f"{url}/review", {"approve": True}, key=key))
    body = {"volunteer_ids": [cast.volunteer.pk]}
    ok(api(cast.building_manager, "post", f"{url}/offer", body, key=key), 201)
