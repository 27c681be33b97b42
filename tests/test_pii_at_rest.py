"""S3 — PII at rest: no plaintext phone, ID or address in a database dump; every reveal audited.

The dump test runs on the database the suite runs on: SQLite (the live connection's iterdump)
or PostgreSQL (pg_dump of the test database); the other variant is skipped with its reason.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection, transaction
from django.http import Http404

from huzhu.accounts import actions, pii
from huzhu.accounts.models import Household, Person, PersonSkill, RoleGrant
from huzhu.audit.models import AuditEntry
from huzhu.core import demo
from huzhu.core.logging import MaskPIIFilter, mask_text

PG_DUMP = Path("/usr/bin/pg_dump")
_PHONE_IN_TEXT = re.compile(r"1[3-9]\d{9}")


def _load_demo_small() -> str:
    out = io.StringIO()
    call_command("load_demo", "--small", stdout=out)
    return out.getvalue()


def _plaintexts() -> dict[str, set[str]]:
    """Every plaintext the dump must not contain, read through the ORM (which decrypts)."""
    found: dict[str, set[str]] = {
        "phone": set(),
        "id_number": set(),
        "contact phone": set(),
        "emergency contact": set(),
        "address": set(),
    }
    for person in Person.objects.all():
        found["phone"].add(person.phone)
        if person.id_number:
            found["id_number"].add(person.id_number)
        if person.emergency_contact:
            found["emergency contact"].add(person.emergency_contact)
            found["contact phone"].update(_PHONE_IN_TEXT.findall(person.emergency_contact))
    for household in Household.objects.exclude(address_detail=""):
        found["address"].add(household.address_detail)
    return found


def _assert_no_plaintext(dump: str) -> None:
    secrets = _plaintexts()
    people = Person.objects.count()
    # The demo must really hold the data the check is about, or the check proves nothing.
    assert len(secrets["phone"]) == people > 40
    assert len(secrets["id_number"]) >= people - 1  # all but the superuser
    assert len(secrets["contact phone"]) >= people - 1
    assert len(secrets["address"]) == Household.objects.count() > 20
    # The dump holds the rows: names and building numbers are not secret and must be there.
    some = Person.objects.exclude(is_superuser=True).order_by("pk")[:5]
    assert all(p.name in dump for p in some), "the dump does not contain the demo rows"
    assert "1号楼" in dump
    leaks = {kind: sorted(v for v in values if v in dump) for kind, values in secrets.items()}
    leaks = {kind: values for kind, values in leaks.items() if values}
    assert not leaks, f"plaintext PII in the database dump: {leaks}"
    assert f"{pii.current_key_id()}$" in dump  # the ciphertext is there instead


@pytest.mark.django_db
def test_sqlite_dump_holds_no_plaintext_pii() -> None:
    if connection.vendor != "sqlite":
        pytest.skip(f"SQLite dump check; this run uses {connection.vendor} (see the pg_dump test)")
    _load_demo_small()
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    dump = "\n".join(raw.iterdump())
    _assert_no_plaintext(dump)


@pytest.fixture
def committed_demo(transactional_db: Any) -> None:
    """The small demo, committed, so that pg_dump (another session) can read it."""
    _load_demo_small()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=f"pg_dump check; this run uses {connection.vendor} (run the suite "
    "with DATABASE_URL=postgres://… to cover PostgreSQL)",
)
def test_postgresql_dump_holds_no_plaintext_pii(committed_demo: None) -> None:
    assert PG_DUMP.exists(), f"{PG_DUMP} is needed for the PII dump check on PostgreSQL"
    db = connection.settings_dict
    cmd = [str(PG_DUMP), "--no-owner", "--dbname", str(db["NAME"])]
    if db.get("HOST"):
        cmd += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        cmd += ["--port", str(db["PORT"])]
    if db.get("USER"):
        cmd += ["--username", str(db["USER"])]
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    dumped = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=False)
    assert dumped.returncode == 0, dumped.stderr.decode(errors="replace")
    _assert_no_plaintext(dumped.stdout.decode("utf-8"))


# --- the demo data itself ----------------------------------------------------------------


@pytest.mark.django_db
def test_demo_people_have_valid_unique_pii_and_the_printed_logins_work() -> None:
    output = _load_demo_small()
    people = list(Person.objects.all())
    phones = [p.phone for p in people]
    ids = [p.id_number for p in people if p.id_number]
    assert all(pii.is_valid_phone(ph) for ph in phones) and len(set(phones)) == len(phones)
    assert all(pii.is_valid_id_number(i) for i in ids) and len(set(ids)) == len(ids)
    for login in demo.LOGINS:
        assert login.phone in output and login.label_en in output
        person = Person.objects.get_by_phone(login.phone)
        assert person.check_password(demo.DEMO_PASSWORD)
        if login.key == "superuser":
            assert person.is_superuser and person.is_staff
        else:
            roles = set(person.grants.values_list("role", flat=True))
            assert {"resident", login.key} <= roles, (login.key, roles)
    # Audit rows are forever: the demo writes only what its actions audit — the time bank's
    # ledger, the needs' service loop and the lockdown operations (group buy, testing, SOPs,
    # questions) — and never a reveal of personal data.
    codes = set(AuditEntry.objects.values_list("code", flat=True))
    domains = ("timebank.", "needs.", "lockdown.", "documents.", "helpdesk.")
    assert codes and all(c.startswith(domains) for c in codes), codes
    assert not any("reveal" in c for c in codes), codes
    again = _load_demo_small()
    assert "already loaded" in again
    assert Person.objects.count() == len(people)


def _snapshot() -> list[tuple[Any, ...]]:
    people = [
        (
            p.name,
            p.phone,
            p.id_number,
            p.emergency_contact,
            str(p.household),
            p.status,
            p.latitude,
            tuple(p.languages),
        )
        for p in Person.objects.select_related("household__building").order_by("pk")
    ]
    grants = sorted(
        (g.person.phone, g.role, g.scope_label())
        for g in RoleGrant.objects.select_related(
            "person", "community", "building", "group", "alliance"
        )
    )
    skills = sorted(
        (s.person.phone, s.skill.code, s.level)
        for s in PersonSkill.objects.select_related("person", "skill")
    )
    return [*people, *grants, *skills]


class _Rollback(Exception):
    pass


@pytest.mark.django_db
def test_demo_is_deterministic_for_a_seed() -> None:
    with pytest.raises(_Rollback), transaction.atomic():
        call_command("load_demo", "--small", "--seed", "7", stdout=io.StringIO())
        first = _snapshot()
        raise _Rollback
    call_command("load_demo", "--small", "--seed", "7", stdout=io.StringIO())
    assert _snapshot() == first


# --- every reveal is audited ---------------------------------------------------------------


def _reveals() -> int:
    return AuditEntry.objects.filter(code="accounts.pii.revealed").count()


@pytest.mark.django_db
def test_each_reveal_writes_exactly_one_audit_entry(cast: Any, world: Any) -> None:
    resident = cast.resident
    resident.set_id_number("11010519491231002X")
    resident.emergency_contact = "王芳 13912345678"
    resident.save()
    cases = [
        (cast.branch_head, "phone", "13800000001"),
        (cast.building_manager, "id_number", "11010519491231002X"),
        (cast.branch_head, "emergency_contact", "王芳 13912345678"),
        (resident, "phone", "13800000001"),  # one's own data, still logged
    ]
    for actor, field, expected in cases:
        before = AuditEntry.objects.count()
        assert actions.reveal_pii(actor=actor, person=resident, field=field) == expected
        assert AuditEntry.objects.count() == before + 1
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry is not None
        assert entry.code == "accounts.pii.revealed"
        assert entry.actor_id == actor.pk
        assert entry.target_id == str(resident.pk)
        assert entry.new_values == {"field": field}
        assert expected not in str(entry.old_values) + str(entry.new_values)
    before = AuditEntry.objects.count()
    address = actions.reveal_household_address(
        actor=cast.building_manager, household=world.household
    )
    assert address == "阳光路1号1号楼101室"
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry is not None and entry.code == "accounts.pii.revealed"
    assert entry.new_values == {"field": "address_detail"}
    assert _reveals() == len(cases) + 1


@pytest.mark.django_db
def test_a_refused_reveal_writes_no_audit_entry(cast: Any, world: Any) -> None:
    refused: list[tuple[Any, type[Exception]]] = [
        (cast.volunteer, PermissionDenied),
        (cast.group_leader, PermissionDenied),
        (cast.finance_officer, PermissionDenied),
        (cast.merchant, PermissionDenied),
        (cast.broker, PermissionDenied),
        (cast.outsider, Http404),  # another community: not even its existence is shown
    ]
    before = AuditEntry.objects.count()
    for actor, error in refused:
        with pytest.raises(error):
            actions.reveal_pii(actor=actor, person=cast.resident, field="phone")
        with pytest.raises(error):
            actions.reveal_household_address(actor=actor, household=world.household)
    assert AuditEntry.objects.count() == before


# --- masking -------------------------------------------------------------------------------


def test_phone_and_id_masking() -> None:
    assert pii.mask_phone("13812341234") == "138****1234"
    assert pii.mask_phone("+86 138 1234 1234") == "138****1234"
    assert pii.mask_id_number("11010519491231002X") == "110105********002X"
    assert pii.mask_id_number("11010519491231002x") == "110105********002X"
    assert pii.mask_text("王芳 13912345678") == "王********"
    person = Person(emergency_contact="王芳 13912345678")
    person.set_phone("13812341234")
    person.set_id_number("11010519491231002X")
    assert person.masked_phone == "138****1234"
    assert person.masked_id_number == "110105********002X"
    assert "13912345678" not in person.masked_emergency_contact


def test_log_filter_masks_phone_and_id_numbers() -> None:
    assert mask_text("call 13812341234 id 11010519491231002X") == (
        "call 138****1234 id 110105********002X"
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPIIFilter())
    logger = logging.getLogger("huzhu.test.pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "resident %s, ID %s, contact %s",
            "13812341234",
            "110105194912310021",
            "王芳 13912345678",
        )
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = stream.getvalue()
    assert "13812341234" not in text and "110105194912310021" not in text
    assert "13912345678" not in text
    assert "138****1234" in text and "110105********0021" in text and "139****5678" in text


def test_the_console_log_handler_is_filtered() -> None:
    assert "pii" in settings.LOGGING["handlers"]["console"]["filters"]
    assert settings.LOGGING["filters"]["pii"]["()"] == "huzhu.core.logging.MaskPIIFilter"


# --- audit rows are append-only ------------------------------------------------------------
