"""My weekly availability, date exceptions and skills, through the pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Certificate,
    PersonSkill,
)
from huzhu.audit.models import AuditEntry
from huzhu.core import clock

pytestmark = pytest.mark.django_db

URL = "/accounts/me/availability/"


def add_slot(c, weekday, start, end):
    return c.post(
        URL,
        {"op": "add_slot", "slot-weekday": weekday, "slot-start_time": start, "slot-end_time": end},
    )


def slots_of(person):
    return [
        (s.weekday, s.start_time.strftime("%H:%M"), s.end_time.strftime("%H:%M"))
        for s in AvailabilitySlot.objects.filter(person=person).order_by("weekday", "start_time")
    ]


def test_url_name():
    assert reverse("accounts:availability") == URL


def test_add_merge_and_remove_slots(as_, cast):
    c = as_(cast.volunteer)
    assert c.get(URL).status_code == 200
    assert add_slot(c, 0, "09:00", "11:00").status_code == 302
    assert add_slot(c, 0, "10:30", "12:00").status_code == 302  # overlaps → merged
    assert add_slot(c, 0, "12:00", "13:00").status_code == 302  # touches → merged
    assert add_slot(c, 0, "15:00", "16:00").status_code == 302  # separate
    assert add_slot(c, 2, "09:00", "10:00").status_code == 302  # another day
    assert slots_of(cast.volunteer) == [
        (0, "09:00", "13:00"),
        (0, "15:00", "16:00"),
        (2, "09:00", "10:00"),
    ]
    page = c.get(URL).content.decode()
    assert "09:00–13:00" in page
    slot = AvailabilitySlot.objects.get(person=cast.volunteer, weekday=2)
    resp = c.post(URL, {"op": "remove_slot", "slot": slot.pk})
    assert resp.status_code == 302
    assert len(slots_of(cast.volunteer)) == 2
    assert AuditEntry.objects.filter(code="accounts.availability.removed").count() == 1


def test_slot_end_before_start_is_refused(as_, cast):
    resp = add_slot(as_(cast.volunteer), 1, "11:00", "09:00")
    assert resp.status_code == 200
    assert resp.context["slot_form"].errors["end_time"]
    assert slots_of(cast.volunteer) == []


def test_cannot_remove_someone_elses_slot(as_, cast):
    from huzhu.accounts.actions import add_availability

    slot = add_availability(
        actor=cast.resident, person=cast.resident, weekday=1, start=dt.time(9), end=dt.time(10)
    )
    resp = as_(cast.volunteer).post(URL, {"op": "remove_slot", "slot": slot.pk})
    assert resp.status_code == 404
    assert AvailabilitySlot.objects.filter(pk=slot.pk).exists()


def test_unknown_operation_is_a_bad_request(as_, cast):
    assert as_(cast.volunteer).post(URL, {"op": "explode"}).status_code == 400


def test_date_exceptions(as_, cast):
    c = as_(cast.volunteer)
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    later = (clock.today() + dt.timedelta(days=2)).isoformat()
    # Away all day: no hours needed.
    resp = c.post(URL, {"op": "add_exception", "exc-date": tomorrow, "exc-kind": "away_day"})
    assert resp.status_code == 302
    # Away some hours without hours: refused by the form.
    resp = c.post(URL, {"op": "add_exception", "exc-date": later, "exc-kind": "away_hours"})
    assert resp.status_code == 200
    assert resp.context["exception_form"].errors["start_time"]
    # Extra hours.
    resp = c.post(
        URL,
        {
            "op": "add_exception",
            "exc-date": later,
            "exc-kind": "extra_hours",
            "exc-start_time": "18:00",
            "exc-end_time": "20:00",
            "exc-note": "加班",
        },
    )
    assert resp.status_code == 302
    excs = list(AvailabilityException.objects.filter(person=cast.volunteer).order_by("date"))
    assert [(e.available, e.start_time) for e in excs] == [(False, None), (True, dt.time(18))]
    page = c.get(URL).content.decode()
    assert "全天不可服务" in page and "额外可服务" in page
    # Remove one.
    resp = c.post(URL, {"op": "remove_exception", "exception": excs[0].pk})
    assert resp.status_code == 302
    assert AvailabilityException.objects.filter(person=cast.volunteer).count() == 1


def test_exception_in_the_past_is_refused_by_the_action(as_, cast):
    yesterday = (clock.today() - dt.timedelta(days=1)).isoformat()
    resp = as_(cast.volunteer).post(
        URL, {"op": "add_exception", "exc-date": yesterday, "exc-kind": "away_day"}
    )
    assert resp.status_code == 200
    assert "日期不能早于今天" in str(resp.context["exception_form"].errors["date"])


SKILLS = "/accounts/me/skills/"


def test_skill_that_requires_a_certificate_is_refused_without_one(as_, cast, skills):
    c = as_(cast.volunteer)
    resp = c.post(SKILLS, {"op": "add", "skill": skills["doctor"].pk, "level": 4})
    assert resp.status_code == 200
    errors = resp.context["form"].errors["certificate_number"]
    assert "需要登记资格证书" in str(errors)
    assert not PersonSkill.objects.filter(person=cast.volunteer).exists()


def test_skill_with_certificate_is_accepted_and_level_can_change(as_, cast, skills):
    c = as_(cast.volunteer)
    valid_until = (clock.today() + dt.timedelta(days=365)).isoformat()
    resp = c.post(
        SKILLS,
        {
            "op": "add",
            "skill": skills["doctor"].pk,
            "level": 4,
            "certificate_number": "110-2020-001",
            "certificate_issuer": "市卫健委",
            "certificate_valid_until": valid_until,
        },
    )
    assert resp.status_code == 302
    held = PersonSkill.objects.get(person=cast.volunteer, skill=skills["doctor"])
    assert held.level == 4 and held.certificate is not None
    assert held.certificate.number == "110-2020-001"
    # Change only the level: the certificate on file is kept.
    resp = c.post(SKILLS, {"op": "add", "skill": skills["doctor"].pk, "level": 5})
    assert resp.status_code == 302
    held.refresh_from_db()
    assert held.level == 5 and held.certificate is not None
    assert Certificate.objects.filter(person=cast.volunteer).count() == 1
    page = c.get(SKILLS).content.decode()
    assert "110-2020-001" in page and "市卫健委" in page
    # The "修改" link preloads the form.
    resp = c.get(SKILLS, {"skill": skills["doctor"].pk})
    assert resp.context["form"].initial["level"] == 5


def test_expired_certificate_is_refused(as_, cast, skills):
    resp = as_(cast.volunteer).post(
        SKILLS,
        {
            "op": "add",
            "skill": skills["doctor"].pk,
            "level": 3,
            "certificate_number": "X1",
            "certificate_issuer": "卫健委",
            "certificate_valid_until": "2000-01-01",
        },
    )
    assert resp.status_code == 200
    assert resp.context["form"].errors["certificate_valid_until"]


def test_plain_skill_add_and_remove(as_, cast, skills):
    c = as_(cast.volunteer)
    assert (
        c.post(SKILLS, {"op": "add", "skill": skills["cooking"].pk, "level": 2}).status_code == 302
    )
    held = PersonSkill.objects.get(person=cast.volunteer, skill=skills["cooking"])
    assert held.level == 2
    resp = c.post(SKILLS, {"op": "remove", "held": held.pk})
    assert resp.status_code == 302
    assert not PersonSkill.objects.filter(pk=held.pk).exists()
    codes = list(
        AuditEntry.objects.filter(target_id=str(cast.volunteer.pk)).values_list("code", flat=True)
    )
    assert "accounts.skill.added" in codes and "accounts.skill.removed" in codes


def test_level_out_of_range_is_refused(as_, cast, skills):
    resp = as_(cast.volunteer).post(
        SKILLS, {"op": "add", "skill": skills["cooking"].pk, "level": 9}
    )
    assert resp.status_code == 200
    assert resp.context["form"].errors["level"]


def test_cannot_remove_someone_elses_skill(as_, cast, skills):
    from huzhu.accounts.actions import add_skill

    held = add_skill(actor=cast.resident, person=cast.resident, skill=skills["cooking"], level=1)
    resp = as_(cast.volunteer).post(SKILLS, {"op": "remove", "held": held.pk})
    assert resp.status_code == 404
