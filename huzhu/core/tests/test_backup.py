"""Backup → wipe → restore reproduces the installation exactly (issue 7): row counts, the
ledger hash and the uploaded files, on SQLite and (DATABASE_URL=postgres://…) on PostgreSQL.
An altered archive, a non-empty installation, another vendor, a newer format and a bad path
are refused with a clear message."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from huzhu.accounts.models import Person
from huzhu.core import backup
from huzhu.timebank import actions
from huzhu.timebank.models import Account, Posting, Transaction

pytestmark = pytest.mark.django_db(transaction=True)

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
ROSTER = "姓名,电话\n张三,13800000001\n".encode()


@pytest.fixture
def installation(world: Any, cast: Any, settings: Any) -> Path:
    """The world and cast, a few ledger entries through the time bank's actions, and two
    uploaded files; returns MEDIA_ROOT."""
    actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal("3"),
        community=world.community,
        key="backup-seed",
    )
    actions.transfer(
        actor=cast.volunteer,
        payer=actions.person_account(cast.volunteer),
        payee=actions.person_account(cast.resident),
        amount=125,
        key="backup-transfer",
    )
    actions.credit_service(
        actor=None,
        volunteer=cast.resident,
        hours=Decimal("1.5"),
        community=world.community,
        key="backup-seed-2",
    )
    media = Path(settings.MEDIA_ROOT)
    (media / "needs" / "evidence" / "7").mkdir(parents=True)
    (media / "needs" / "evidence" / "7" / "门口.jpg").write_bytes(PHOTO)
    (media / "roster.csv").write_bytes(ROSTER)
    return media


def _wipe(media: Path) -> None:
    call_command("flush", interactive=False, verbosity=0)
    for path in sorted(media.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


def _backup(tmp_path: Path) -> Path:
    call_command("backup", output=str(tmp_path), verbosity=0)
    (archive,) = tmp_path.glob("huzhu-backup-*.tar.gz")
    return archive


def _repack(archive: Path, tmp_path: Path, change: Callable[[Path], None]) -> Path:
    """A copy of ``archive`` with ``change`` applied to its unpacked files."""
    folder = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    change(folder)
    out = tmp_path / "altered.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(folder).as_posix())
    return out


def _edit_manifest(folder: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = folder / backup.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _balances() -> dict[int, tuple[int, int]]:
    return {a.pk: (a.balance, a.held) for a in Account.objects.order_by("pk")}


def test_backup_wipe_restore_reproduces_the_installation(
    installation: Path, tmp_path: Path
) -> None:
    before = backup.installation_figures()
    balances = _balances()
    assert before.tables["timebank_posting"] == 6
    assert before.tables["django_migrations"] > 0
    assert before.tables[Person.groups.through._meta.db_table] == 0  # m2m tables are counted
    assert set(before.media) == {"needs/evidence/7/门口.jpg", "roster.csv"}

    archive = _backup(tmp_path)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(backup.MANIFEST_NAME))  # type: ignore[arg-type]
        names = set(tar.getnames())
    assert manifest["format"] == backup.FORMAT_VERSION
    assert manifest["vendor"] == connection.vendor
    assert manifest["tables"] == before.tables
    assert manifest["ledger_hash"] == before.ledger_hash
    assert manifest["migrations"] == before.migrations
    assert manifest["media"] == before.media
    assert manifest["huzhu_version"]
    assert {backup.DB_FILES[connection.vendor], "media/roster.csv"} <= names
    assert archive.stat().st_mode & 0o077 == 0  # personal data: the owner's only

    _wipe(installation)
    wiped = backup.installation_figures()
    assert wiped.tables["timebank_posting"] == 0
    assert wiped.ledger_hash != before.ledger_hash
    assert wiped.media == {}

    out = tmp_path / "restore.log"
    with out.open("w") as stdout:
        call_command("restore", str(archive), stdout=stdout)
    assert "ledger hash verified" in out.read_text()

    after = backup.installation_figures()
    assert after.tables == before.tables
    assert after.ledger_hash == before.ledger_hash
    assert after.media == before.media
    assert (installation / "needs" / "evidence" / "7" / "门口.jpg").read_bytes() == PHOTO
    assert _balances() == balances
    assert Transaction.objects.get(idempotency_key="backup-transfer").postings.count() == 2
    assert Person.objects.filter(phone_hash__isnull=False).count() == 11
    call_command("reconcile_ledger", verbosity=0)  # balances agree with the restored journal


def test_ledger_hash_follows_the_journal(installation: Path, cast: Any) -> None:
    with connection.cursor() as cursor:
        first = backup.ledger_hash(cursor, connection.vendor)
        again = backup.ledger_hash(cursor, connection.vendor)
    actions.transfer(
        actor=cast.resident,
        payer=actions.person_account(cast.resident),
        payee=actions.person_account(cast.volunteer),
        amount=1,
        key="backup-one-more",
    )
    with connection.cursor() as cursor:
        later = backup.ledger_hash(cursor, connection.vendor)
    assert first == again
    assert later != first


def test_restore_refuses_a_non_empty_installation_without_force(
    installation: Path, tmp_path: Path, cast: Any
) -> None:
    before = backup.installation_figures()
    archive = _backup(tmp_path)
    # Changes after the backup: one more ledger entry and one more file.
    actions.transfer(
        actor=cast.volunteer,
        payer=actions.person_account(cast.volunteer),
        payee=actions.person_account(cast.resident),
        amount=5,
        key="backup-after",
    )
    (installation / "later.txt").write_text("later")

    with pytest.raises(CommandError, match=r"not empty.*--force"):
        call_command("restore", str(archive))
    assert Transaction.objects.filter(idempotency_key="backup-after").exists()
    assert (installation / "later.txt").exists()

    call_command("restore", str(archive), force=True, verbosity=0)
    after = backup.installation_figures()
    assert after.tables == before.tables
    assert after.ledger_hash == before.ledger_hash
    assert after.media == before.media
    assert not Transaction.objects.filter(idempotency_key="backup-after").exists()
    assert not (installation / "later.txt").exists()


def test_an_altered_file_in_the_archive_is_refused_before_anything_changes(
    installation: Path, tmp_path: Path
) -> None:
    archive = _backup(tmp_path)
    altered = _repack(
        archive, tmp_path, lambda folder: (folder / "media" / "roster.csv").write_bytes(b"x")
    )
    _wipe(installation)
    with pytest.raises(CommandError, match=r"does not match its manifest[\s\S]*roster\.csv"):
        call_command("restore", str(altered))
    assert Posting.objects.count() == 0  # nothing restored
    assert list(installation.iterdir()) == []


def test_an_extra_file_in_the_archive_is_refused(installation: Path, tmp_path: Path) -> None:
    archive = _backup(tmp_path)
    altered = _repack(
        archive, tmp_path, lambda folder: (folder / "media" / "extra.txt").write_text("x")
    )
    _wipe(installation)
    with pytest.raises(CommandError, match=r"extra\.txt: in the archive but not in the manifest"):
        call_command("restore", str(altered))


def test_a_restore_that_differs_from_the_manifest_fails(installation: Path, tmp_path: Path) -> None:
    """The check after the restore compares the restored installation with the manifest:
    a manifest promising other counts and another ledger hash makes the restore fail."""
    archive = _backup(tmp_path)

    def edit(manifest: dict[str, Any]) -> None:
        manifest["tables"]["timebank_posting"] += 1
        manifest["ledger_hash"] = "0" * 64

    altered = _repack(archive, tmp_path, lambda folder: _edit_manifest(folder, edit))
    _wipe(installation)
    with pytest.raises(CommandError) as failed:
        call_command("restore", str(altered))
    message = str(failed.value)
    assert "differs from the backup's manifest in 2 place(s)" in message
    assert "table timebank_posting: 6 rows, the backup has 7" in message
    assert "ledger hash" in message


def test_a_row_altered_in_the_database_copy_is_detected(installation: Path, tmp_path: Path) -> None:
    """One posting's amount changed inside the archived database (with its checksum fixed up,
    so the archive looks intact): the restored ledger's hash gives it away."""
    if connection.vendor != "sqlite":
        pytest.skip("edits the archived SQLite file; PostgreSQL's dump is covered above")
    archive = _backup(tmp_path)

    def tamper(folder: Path) -> None:
        db_file = folder / backup.DB_FILES["sqlite"]
        db = sqlite3.connect(db_file)
        db.execute(
            "UPDATE timebank_posting SET amount = amount + 1 "
            "WHERE id = (SELECT MAX(id) FROM timebank_posting)"
        )
        db.commit()
        db.close()
        _edit_manifest(folder, lambda m: m["database"].update(sha256=backup.sha256_file(db_file)))

    altered = _repack(archive, tmp_path, tamper)
    _wipe(installation)
    with pytest.raises(CommandError, match="ledger hash"):
        call_command("restore", str(altered))


def test_other_vendor_newer_format_and_unknown_migrations_are_refused(
    installation: Path, tmp_path: Path
) -> None:
    archive = _backup(tmp_path)
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    cases: list[tuple[Callable[[dict[str, Any]], None], str]] = [
        (lambda m: m.update(vendor=other), f"backup is of a {other} database"),
        (lambda m: m.update(format=backup.FORMAT_VERSION + 1), "this huzhu reads format"),
        (lambda m: m["migrations"]["timebank"].append("9999_future"), "newer huzhu"),
    ]
    _wipe(installation)
    for i, (edit, message) in enumerate(cases):
        work = tmp_path / f"case{i}"
        work.mkdir()
        altered = _repack(archive, work, lambda folder, edit=edit: _edit_manifest(folder, edit))
        with pytest.raises(CommandError, match=message):
            call_command("restore", str(altered))
    assert Posting.objects.count() == 0


def test_bad_paths_give_clear_errors(tmp_path: Path, db: Any) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(CommandError, match="not a readable huzhu backup"):
        call_command("restore", str(junk))
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(CommandError, match=r"has no manifest\.json"):
        call_command("restore", str(empty))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup", output=str(tmp_path / "nowhere" / "b.tar.gz"))
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", output=str(junk))


def test_restore_exits_non_zero_from_the_shell(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "restore", str(tmp_path / "missing.tar.gz")],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "missing.tar.gz: no such file" in done.stderr


@pytest.mark.postgres
def test_postgresql_restore_keeps_the_append_only_triggers_and_the_posting_function(
    installation: Path, tmp_path: Path, world: Any, cast: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "pg_dump/pg_restore need PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )
    archive = _backup(tmp_path)
    _wipe(installation)
    call_command("restore", str(archive), verbosity=0)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE timebank_posting SET amount = amount + 1")
    # The sequences and the PL/pgSQL posting function came back: posting goes on.
    actions.credit_service(
        actor=None,
        volunteer=Person.objects.get(pk=cast.volunteer.pk),
        hours=Decimal("1"),
        community=world.community,
        key="backup-after-restore",
    )
    assert Transaction.objects.filter(idempotency_key="backup-after-restore").exists()
    call_command("reconcile_ledger", verbosity=0)
