"""manage.py rotate_pii_keys: re-encryption under a new key and recomputed blind indexes."""

from __future__ import annotations

import base64
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from huzhu.accounts.models import Household, Person
from huzhu.orgs.models import Alliance, Building, Community

pytestmark = pytest.mark.django_db

OLD = "old:" + base64.b64encode(b"o" * 32).decode()
NEW = "new:" + base64.b64encode(b"n" * 32).decode()
PASSWORD = "rotate-me-2024"
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
CONTACT = "王芳 13987654321"
ADDRESS = "上海市普陀区云岭东路 288 弄 9 号 1201 室"


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def _make_world() -> tuple[Person, Household]:
    alliance = Alliance.objects.create(name="轮换联盟")
    community = Community.objects.create(alliance=alliance, name="轮换小区")
    building = Building.objects.create(community=community, name="9号楼")
    household = Household.objects.create(
        community=community, building=building, room="1201", floor=12, address_detail=ADDRESS
    )
    person = Person(
        name="王建", community=community, household=household, emergency_contact=CONTACT
    )
    person.set_phone(PHONE)
    person.set_id_number(ID_NUMBER)
    person.set_password(PASSWORD)
    person.save()
    return person, household


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_pii_keys", *args, stdout=out)
    return out.getvalue()


def test_rotation_reencrypts_every_value_under_the_new_key() -> None:
    with override_settings(HUZHU_PII_KEYS=OLD):
        person, household = _make_world()
    for column in ("phone", "id_number", "emergency_contact"):
        assert _raw("accounts_person", column, person.pk).startswith("old$")
    assert _raw("accounts_household", "address_detail", household.pk).startswith("old$")

    with override_settings(HUZHU_PII_KEYS=f"{NEW},{OLD}"):
        report = _run("--dry-run")
        assert "4 values under a non-current key" in report
        assert _raw("accounts_person", "phone", person.pk).startswith("old$")  # untouched
        report = _run()
        assert "4 values re-encrypted with key new" in report
        assert "Dry run: 0 values" in _run("--dry-run")

    with override_settings(HUZHU_PII_KEYS=NEW):  # the old key is gone
        for column in ("phone", "id_number", "emergency_contact"):
            assert _raw("accounts_person", column, person.pk).startswith("new$")
        assert _raw("accounts_household", "address_detail", household.pk).startswith("new$")
        fresh = Person.objects.get(pk=person.pk)
        assert (fresh.phone, fresh.id_number, fresh.emergency_contact) == (
            PHONE,
            ID_NUMBER,
            CONTACT,
        )
        assert Household.objects.get(pk=household.pk).address_detail == ADDRESS
        assert Person.objects.get_by_phone(PHONE).pk == person.pk


def test_login_by_phone_survives_an_index_key_change() -> None:
    with override_settings(HUZHU_PII_KEYS=OLD, HUZHU_PII_INDEX_KEY="index-one"):
        person, _household = _make_world()
        assert authenticate(phone=PHONE, password=PASSWORD) == person
    with override_settings(HUZHU_PII_KEYS=f"{NEW},{OLD}", HUZHU_PII_INDEX_KEY="index-two"):
        assert authenticate(phone=PHONE, password=PASSWORD) is None  # the index is stale
        assert "2 stale blind indexes" in _run("--dry-run")
        _run()
        assert authenticate(phone=PHONE, password=PASSWORD) == person
        fresh = Person.objects.get(pk=person.pk)
        assert Person.objects.get(id_number_hash=fresh.id_number_hash).pk == person.pk
    with override_settings(HUZHU_PII_KEYS=NEW, HUZHU_PII_INDEX_KEY="index-two"):
        assert authenticate(phone=PHONE, password=PASSWORD) == person


def test_a_value_under_an_unconfigured_key_stops_the_command() -> None:
    with override_settings(HUZHU_PII_KEYS=OLD):
        person, _household = _make_world()
    with override_settings(HUZHU_PII_KEYS=NEW), pytest.raises(CommandError, match="old"):
        _run()
    with override_settings(HUZHU_PII_KEYS=OLD):
        assert Person.objects.get(pk=person.pk).phone == PHONE  # nothing was lost


def test_empty_values_stay_empty() -> None:
    with override_settings(HUZHU_PII_KEYS=OLD):
        alliance = Alliance.objects.create(name="空值联盟")
        community = Community.objects.create(alliance=alliance, name="空值小区")
        person = Person(name="李四", community=community)
        person.set_phone("13712345678")
        person.save()
    with override_settings(HUZHU_PII_KEYS=f"{NEW},{OLD}"):
        assert "1 values re-encrypted" in _run()
    with override_settings(HUZHU_PII_KEYS=NEW):
        fresh = Person.objects.get(pk=person.pk)
        assert fresh.id_number == "" and fresh.id_number_hash is None
        assert fresh.emergency_contact == ""
        assert fresh.phone == "13712345678"
