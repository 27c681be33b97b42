"""``manage.py restore PATH [--force]``: put an installation back from a backup archive and
verify it against the archive's manifest (huzhu/core/backup.py, docs/configuration.md
"Backup and restore")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.core import backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the configured database and "
        "MEDIA_ROOT, then check row counts, the ledger hash and every file's sha256 against "
        "the backup's manifest; exits non-zero on any difference. Refuses an altered archive, "
        "a backup of the other database vendor or of a newer format, and — without --force — "
        "an installation that is not empty. Stop the web processes and workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the .tar.gz archive written by `manage.py backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace an installation that holds data (its database and uploaded files)",
        )
        parser.add_argument("--database", default="default", help="database alias (default)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup.restore_backup(
                Path(options["path"]), force=options["force"], using=options["database"]
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        if result.differences:
            raise CommandError(
                f"Restored {options['path']}, but the installation differs from the backup's "
                f"manifest in {len(result.differences)} place(s):\n  "
                + "\n  ".join(result.differences)
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {options['path']} (made {manifest.get('created_at')} by huzhu "
                f"{manifest.get('huzhu_version')}): {len(manifest['tables'])} tables, "
                f"{sum(manifest['tables'].values())} rows, {len(manifest['media'])} files, "
                "ledger hash verified."
            )
        )
        if result.pending_migrations:
            self.stdout.write(
                f"This code has {result.pending_migrations} migration(s) the backup had not "
                "applied: run `manage.py migrate` now."
            )
