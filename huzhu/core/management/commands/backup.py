"""``manage.py backup --output PATH``: one archive of the whole installation (database and
uploaded files), see huzhu/core/backup.py and docs/configuration.md "Backup and restore"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.core import backup


class Command(BaseCommand):
    help = (
        "Back up the whole installation into one .tar.gz archive: the database (SQLite: a "
        "consistent copy through SQLite's backup API; PostgreSQL: pg_dump --format=custom), "
        "every file under MEDIA_ROOT, and a manifest with the applied migrations, the row count "
        "of every table, the ledger hash and the sha256 of every file. The web processes may "
        "keep running."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            required=True,
            help="the archive to write (must not exist), or a folder to write "
            "huzhu-backup-<UTC time>.tar.gz into",
        )
        parser.add_argument("--database", default="default", help="database alias (default)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path, manifest = backup.create_backup(
                Path(options["output"]), using=options["database"]
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {path}: {manifest['vendor']} database, "
                f"{len(manifest['tables'])} tables, {rows} rows, "
                f"{len(manifest['media'])} uploaded files, ledger hash {manifest['ledger_hash']}."
            )
        )
