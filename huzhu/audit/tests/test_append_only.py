"""Audit rows are never updated or deleted: the ORM refuses, and on PostgreSQL so does the
database itself (trigger of migration 0002)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from huzhu.audit.models import AuditEntry
from huzhu.audit.service import record
from huzhu.core.models import AppendOnlyError

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(world: Any, cast: Any) -> AuditEntry:
    with transaction.atomic():
        return record(
            "tests.thing.done",
            actor=cast.branch_head,
            community=world.community,
            new={"phone": "13800000001", "note": "x"},
        )


def test_record_masks_secrets(entry: AuditEntry) -> None:
    assert entry.new_values == {"phone": "***", "note": "x"}


def test_orm_refuses_update_and_delete(entry: AuditEntry) -> None:
    entry.code = "tests.thing.changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(code="tests.thing.changed")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).code == "tests.thing.done"


@pytest.mark.postgres
def test_database_refuses_raw_update_and_delete(entry: AuditEntry) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the append-only trigger exists only on PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    table = AuditEntry._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {table} SET code = %s WHERE id = %s",  # noqa: S608
            ["tests.thing.changed", entry.pk],
        )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [entry.pk])  # noqa: S608
    assert AuditEntry.objects.get(pk=entry.pk).code == "tests.thing.done"
