"""Backup and restore of a whole installation: the database and the uploaded files.

One backup is one ``.tar.gz`` archive holding

- ``database.sqlite3`` (SQLite: a consistent copy made with SQLite's online backup API, never a
  file copy of the live database) or ``database.pgdump`` (PostgreSQL: ``pg_dump
  --format=custom`` taken in an exported snapshot);
- ``media/…``: every regular file under ``MEDIA_ROOT``;
- ``manifest.json``: the format version, when and by which huzhu version it was made, the
  database vendor, the applied migrations per app, the row count of every table, the ledger
  hash (``ledger_hash``) and the sha256 and size of the database file and of every media file.

The figures of the manifest describe exactly the data in the archive: on SQLite they are read
from the copy, on PostgreSQL in the same snapshot that ``pg_dump`` dumps. A restore checks the
archive against its manifest before it touches anything, replaces the database and the
uploaded files, then reads the figures again from the restored installation and reports every
difference. ``manage.py backup`` and ``manage.py restore`` are thin wrappers
(docs/configuration.md "Backup and restore").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader

from huzhu.core import clock

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MEDIA_DIR = "media"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Tables that ``migrate`` fills by itself: rows there do not make an installation non-empty.
BOOKKEEPING_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission"})
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator."""


@dataclass
class Figures:
    """What a backup promises and a restore checks: counts, ledger hash, files, migrations."""

    tables: dict[str, int]
    ledger_hash: str
    migrations: dict[str, list[str]]
    media: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    differences: list[str]
    pending_migrations: int


# --- hashing and counting ---------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(vendor: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise BackupError(f"Unexpected table or column name {name!r}.")
    return f'"{name}"'


def table_names(cursor: Any, vendor: str) -> list[str]:
    """Every table of the database (SQLite's internal tables aside), sorted."""
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\'"
        )
    elif vendor == "postgresql":
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    else:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return sorted(row[0] for row in cursor.fetchall())


def table_counts(cursor: Any, vendor: str) -> dict[str, int]:
    """The row count of every table of the database, including ``django_migrations`` and the
    tables of many-to-many fields."""
    counts: dict[str, int] = {}
    for name in table_names(cursor, vendor):
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(vendor, name)}")  # noqa: S608
        counts[name] = int(cursor.fetchone()[0])
    return counts


def applied_migrations(cursor: Any, vendor: str) -> dict[str, list[str]]:
    """The migrations recorded in ``django_migrations``, per app, sorted."""
    if "django_migrations" not in table_names(cursor, vendor):
        return {}
    cursor.execute("SELECT app, name FROM django_migrations")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def _utc_text(value: Any) -> str | None:
    """A datetime as UTC ISO text, the same whether the driver gave a datetime (PostgreSQL) or
    the stored text (SQLite keeps aware datetimes as UTC text without an offset)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise BackupError(f"Unexpected timestamp {value!r} in the ledger.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


# What the ledger hash covers, per model of the time bank: the journal (transactions and their
# postings) and the accounts with their cached balances. Field names, read through the model's
# metadata so that the hash follows a renamed column.
_LEDGER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Account",
        ("id", "kind", "person", "community", "code", "balance", "held"),
    ),
    (
        "Transaction",
        (
            "id",
            "kind",
            "created_at",
            "idempotency_key",
            "reverses",
            "community",
            "actor",
            "on_behalf_of",
            "service_minutes",
            "reference",
            "memo",
        ),
    ),
    ("Posting", ("id", "transaction", "account", "amount", "community")),
)


def ledger_hash(cursor: Any, vendor: str) -> str:
    """sha256 over the time bank's accounts, transactions and postings in primary-key order.

    Each row is one JSON line (integers as numbers, timestamps as UTC ISO text), so the hash is
    the same on SQLite and PostgreSQL for the same ledger. Without the time bank installed (or
    its tables) it is the hash of nothing.
    """
    digest = hashlib.sha256()
    if not apps.is_installed("huzhu.timebank"):
        return digest.hexdigest()
    existing = set(table_names(cursor, vendor))
    for model_name, names in _LEDGER_FIELDS:
        model = apps.get_model("timebank", model_name)
        table = model._meta.db_table
        if table not in existing:
            continue
        fields = [model._meta.get_field(name) for name in names]
        columns = ", ".join(_quote(vendor, f.column) for f in fields)
        timestamps = [i for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"]
        cursor.execute(
            f"SELECT {columns} FROM {_quote(vendor, table)} ORDER BY {_quote(vendor, 'id')}"  # noqa: S608
        )
        while rows := cursor.fetchmany(2000):
            for row in rows:
                values = list(row)
                for i in timestamps:
                    values[i] = _utc_text(values[i])
                line = json.dumps([table, *values], ensure_ascii=False, separators=(",", ":"))
                digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def media_files(root: Path) -> dict[str, dict[str, Any]]:
    """Every regular file under ``root`` (symbolic links are not followed): relative POSIX
    path → sha256 and size."""
    found: dict[str, dict[str, Any]] = {}
    for path in _walk_files(root):
        rel = path.relative_to(root).as_posix()
        found[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return found


def _walk_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def installation_figures(using: str = DEFAULT_DB_ALIAS) -> Figures:
    """The figures of the live installation (for the check after a restore)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        figures = Figures(
            tables=table_counts(cursor, connection.vendor),
            ledger_hash=ledger_hash(cursor, connection.vendor),
            migrations=applied_migrations(cursor, connection.vendor),
        )
    figures.media = media_files(Path(settings.MEDIA_ROOT))
    return figures


def compare(manifest: dict[str, Any], figures: Figures) -> list[str]:
    """Every difference between a manifest and an installation's figures, in words."""
    differences: list[str] = []
    expected_tables: dict[str, int] = manifest["tables"]
    for name in sorted(set(expected_tables) | set(figures.tables)):
        want, have = expected_tables.get(name), figures.tables.get(name)
        if want is None:
            differences.append(f"table {name}: not in the backup, {have} rows now")
        elif have is None:
            differences.append(f"table {name}: missing (the backup has {want} rows)")
        elif want != have:
            differences.append(f"table {name}: {have} rows, the backup has {want}")
    if manifest["ledger_hash"] != figures.ledger_hash:
        differences.append(
            f"ledger hash: {figures.ledger_hash}, the backup has {manifest['ledger_hash']}"
        )
    if manifest["migrations"] != figures.migrations:
        differences.append("applied migrations differ from the backup's")
    expected_media: dict[str, dict[str, Any]] = manifest["media"]
    for rel in sorted(set(expected_media) | set(figures.media)):
        want_file, have_file = expected_media.get(rel), figures.media.get(rel)
        if want_file is None:
            differences.append(f"file {rel}: not in the backup")
        elif have_file is None:
            differences.append(f"file {rel}: missing")
        elif want_file["sha256"] != have_file["sha256"]:
            differences.append(f"file {rel}: content differs (sha256 {have_file['sha256']})")
    return differences


# --- PostgreSQL tools ---------------------------------------------------------------------------

# Connection OPTIONS that libpq also reads from the environment.
_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def _pg_env(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """libpq environment for pg_dump/pg_restore from Django's connection settings (the password
    goes in the environment, never on the command line)."""
    params = connection.settings_dict
    env = dict(os.environ)
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if params.get(key):
            env[var] = str(params[key])
    for option, var in _PG_OPTION_ENV.items():
        value = (params.get("OPTIONS") or {}).get(option)
        if value:
            env[var] = str(value)
    return env


def _pg_tool(name: str, connection: BaseDatabaseWrapper) -> str:
    """The path of ``pg_dump``/``pg_restore``, refused when older than the server."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools of the server's "
            "major version (Debian: postgresql-client)."
        )
    out = subprocess.run(  # noqa: S603
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    server_major = int(getattr(connection, "pg_version", 0)) // 10000
    if match is None:
        raise BackupError(f"Could not read the version of {path}: {out.strip()!r}")
    if int(match.group(1)) < server_major:
        raise BackupError(
            f"{path} is version {match.group(1)}, older than the server ({server_major}): "
            "install the client tools of the server's version."
        )
    return path


def _run(args: Sequence[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()}")


# --- backup -------------------------------------------------------------------------------------


def _huzhu_version() -> str:
    """``git describe`` of the checkout when there is one, else the package version."""
    git = shutil.which("git")
    if git and (Path(settings.BASE_DIR) / ".git").exists():
        try:
            done = subprocess.run(  # noqa: S603
                [git, "-C", str(settings.BASE_DIR), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    try:
        from importlib.metadata import version

        return version("huzhu")
    except Exception:  # the checkout is not an installed package
        return "unknown"


def _sqlite_copy(connection: BaseDatabaseWrapper, target: Path) -> Figures:
    """Copy the live SQLite database with the online backup API; figures from the copy."""
    if connection.in_atomic_block:
        raise BackupError("A backup cannot run inside a transaction.")
    connection.ensure_connection()
    source = connection.connection
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # The copy is a standalone file, whatever journal mode the live database uses.
        copy.execute("PRAGMA journal_mode=DELETE")
        cursor = copy.cursor()
        return Figures(
            tables=table_counts(cursor, "sqlite"),
            ledger_hash=ledger_hash(cursor, "sqlite"),
            migrations=applied_migrations(cursor, "sqlite"),
        )
    finally:
        copy.close()


def _pg_dump(connection: BaseDatabaseWrapper, target: Path) -> Figures:
    """``pg_dump --format=custom`` in a snapshot exported by a read-only repeatable-read
    transaction, whose figures are read in that same transaction."""
    if connection.in_atomic_block:
        raise BackupError("A backup cannot run inside a transaction.")
    pg_dump = _pg_tool("pg_dump", connection)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-password",
                f"--file={target}",
            ],
            _pg_env(connection),
            "pg_dump",
        )
        return Figures(
            tables=table_counts(cursor, "postgresql"),
            ledger_hash=ledger_hash(cursor, "postgresql"),
            migrations=applied_migrations(cursor, "postgresql"),
        )


class _HashingReader:
    """Reads a file for tarfile and hashes exactly the bytes that went into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add_media(archive: tarfile.TarFile, root: Path) -> dict[str, dict[str, Any]]:
    media: dict[str, dict[str, Any]] = {}
    for path in _walk_files(root):
        rel = path.relative_to(root).as_posix()
        info = archive.gettarinfo(str(path), arcname=f"{MEDIA_DIR}/{rel}")
        with path.open("rb") as handle:
            reader = _HashingReader(handle)
            archive.addfile(info, reader)
        media[rel] = {"sha256": reader.digest.hexdigest(), "size": info.size}
    return media


def default_name() -> str:
    return f"huzhu-backup-{clock.now().astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def create_backup(output: Path, *, using: str = DEFAULT_DB_ALIAS) -> tuple[Path, dict[str, Any]]:
    """Write one archive of the whole installation to ``output`` (a directory: a new file named
    by the time in it). Returns the archive's path and its manifest."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in DB_FILES:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    if output.is_dir():
        output = output / default_name()
    if output.exists():
        raise BackupError(f"{output} exists already; choose another name.")
    if not output.parent.is_dir():
        raise BackupError(f"The folder {output.parent} does not exist.")
    partial = output.with_name(output.name + ".partial")
    media_root = Path(settings.MEDIA_ROOT)
    with tempfile.TemporaryDirectory(prefix="huzhu-backup-", dir=output.parent) as work:
        db_file = Path(work) / DB_FILES[vendor]
        if vendor == "sqlite":
            figures = _sqlite_copy(connection, db_file)
        else:
            figures = _pg_dump(connection, db_file)
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "created_at": clock.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
            "huzhu_version": _huzhu_version(),
            "vendor": vendor,
            "database": {
                "file": DB_FILES[vendor],
                "sha256": sha256_file(db_file),
                "size": db_file.stat().st_size,
            },
            "migrations": figures.migrations,
            "tables": figures.tables,
            "ledger_hash": figures.ledger_hash,
        }
        try:
            # Readable by its owner only: the archive holds (encrypted) personal data.
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            with tarfile.open(partial, "w:gz") as archive:
                archive.add(str(db_file), arcname=DB_FILES[vendor])
                manifest["media"] = _add_media(archive, media_root)
                body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST_NAME)
                info.size = len(body)
                info.mtime = int(clock.now().timestamp())
                info.mode = 0o644
                archive.addfile(info, _BytesReader(body))
            partial.replace(output)
        except OSError as exc:
            raise BackupError(f"Could not write {output}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)
    return output, manifest


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk


# --- restore ------------------------------------------------------------------------------------


@contextmanager
def open_archive(path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Unpack an archive into a temporary folder; yields the folder and the manifest after
    checking the format and every file's sha256 against the manifest."""
    if not path.exists():
        raise BackupError(f"{path}: no such file.")
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    with tempfile.TemporaryDirectory(prefix="huzhu-restore-") as work:
        folder = Path(work)
        try:
            with tarfile.open(path, "r:*") as archive:
                archive.extractall(folder, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{path} is not a readable huzhu backup: {exc}") from exc
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BackupError(f"{path} is not a huzhu backup: it has no {MANIFEST_NAME}.")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BackupError(f"The manifest of {path} is not valid JSON: {exc}") from exc
        _check_manifest(manifest)
        problems = list(_archive_problems(folder, manifest))
        if problems:
            raise BackupError(
                f"{path} does not match its manifest (damaged or altered), nothing restored:\n  "
                + "\n  ".join(problems)
            )
        yield folder, manifest


def _check_manifest(manifest: Any) -> None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise BackupError("The manifest has no format version: not a huzhu backup.")
    if manifest["format"] > FORMAT_VERSION:
        raise BackupError(
            f"The backup has format {manifest['format']}; this huzhu reads format "
            f"{FORMAT_VERSION} and older. Restore it with the huzhu version that made it "
            f"({manifest.get('huzhu_version', 'unknown')})."
        )
    missing = [
        key
        for key in ("vendor", "database", "migrations", "tables", "ledger_hash", "media")
        if key not in manifest
    ]
    if missing:
        raise BackupError(f"The manifest lacks {', '.join(missing)}.")


def _archive_problems(folder: Path, manifest: dict[str, Any]) -> Iterable[str]:
    db = manifest["database"]
    db_file = folder / str(db.get("file", ""))
    if not db.get("file") or not db_file.is_file():
        yield f"database file {db.get('file')!r} missing"
    elif sha256_file(db_file) != db.get("sha256"):
        yield f"database file {db['file']}: sha256 differs from the manifest"
    found = media_files(folder / MEDIA_DIR)
    for rel in sorted(set(manifest["media"]) | set(found)):
        want, have = manifest["media"].get(rel), found.get(rel)
        if want is None:
            yield f"file {rel}: in the archive but not in the manifest"
        elif have is None:
            yield f"file {rel}: in the manifest but not in the archive"
        elif want.get("sha256") != have["sha256"]:
            yield f"file {rel}: sha256 differs from the manifest"


def unknown_migrations(manifest: dict[str, Any], using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Migrations the backup applied that this code does not have (a newer huzhu made it)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    return [
        f"{app}.{name}"
        for app, names in manifest["migrations"].items()
        for name in names
        if (app, name) not in known and app in apps.app_configs
    ]


def data_rows(using: str = DEFAULT_DB_ALIAS) -> int:
    """Rows of the live database outside the bookkeeping tables ``migrate`` fills itself."""
    connection = connections[using]
    with connection.cursor() as cursor:
        counts = table_counts(cursor, connection.vendor)
    return sum(n for name, n in counts.items() if name not in BOOKKEEPING_TABLES)


def _pending(manifest: dict[str, Any]) -> int:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    applied = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    return len(set(loader.disk_migrations) - applied)


def _restore_sqlite(connection: BaseDatabaseWrapper, db_file: Path) -> None:
    if connection.in_atomic_block:
        raise BackupError("A restore cannot run inside a transaction.")
    connection.ensure_connection()
    source = sqlite3.connect(db_file)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


def _restore_postgresql(connection: BaseDatabaseWrapper, db_file: Path) -> None:
    if connection.in_atomic_block:
        raise BackupError("A restore cannot run inside a transaction.")
    pg_restore = _pg_tool("pg_restore", connection)
    env = _pg_env(connection)
    # Without a target database pg_restore would print SQL instead of restoring.
    dbname = env.get("PGDATABASE") or (f"service={env['PGSERVICE']}" if "PGSERVICE" in env else "")
    if not dbname:
        raise BackupError("The database settings name no PostgreSQL database to restore into.")
    connection.close()
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--no-password",
            f"--dbname={dbname}",
            str(db_file),
        ],
        env,
        "pg_restore",
    )


def _restore_media(source: Path, root: Path) -> None:
    """Replace the contents of ``root`` (not the folder itself: it may be a mount point)."""
    root.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if source.is_dir():
        shutil.copytree(source, root, dirs_exist_ok=True)


def restore_backup(
    path: Path, *, force: bool = False, using: str = DEFAULT_DB_ALIAS
) -> RestoreResult:
    """Restore an archive into the configured database and MEDIA_ROOT, then verify.

    Refused before anything is touched: an unreadable or altered archive, another database
    vendor, a newer format, migrations this code does not know, and — without ``force`` — a
    database with data or a MEDIA_ROOT with files. The result lists every difference between
    the restored installation and the manifest (empty: restored exactly).
    """
    connection = connections[using]
    media_root = Path(settings.MEDIA_ROOT)
    with open_archive(path) as (folder, manifest):
        if manifest["vendor"] != connection.vendor:
            raise BackupError(
                f"The backup is of a {manifest['vendor']} database; this installation uses "
                f"{connection.vendor}. Restore it into a {manifest['vendor']} installation."
            )
        unknown = unknown_migrations(manifest, using)
        if unknown:
            raise BackupError(
                "The backup was made by a newer huzhu (migrations unknown here: "
                + ", ".join(unknown[:5])
                + (", …" if len(unknown) > 5 else "")
                + f"). Install {manifest.get('huzhu_version', 'that version')} first."
            )
        if not force:
            rows = data_rows(using)
            files = sum(1 for _ in _walk_files(media_root))
            if rows or files:
                raise BackupError(
                    f"The installation is not empty ({rows} rows in the database, {files} "
                    f"files in {media_root}). Restoring replaces all of it: run again with "
                    "--force to do so."
                )
        db_file = folder / manifest["database"]["file"]
        if connection.vendor == "sqlite":
            _restore_sqlite(connection, db_file)
        else:
            _restore_postgresql(connection, db_file)
        _restore_media(folder / MEDIA_DIR, media_root)
    differences = compare(manifest, installation_figures(using))
    return RestoreResult(manifest, differences, _pending(manifest))
