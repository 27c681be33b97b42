"""``manage.py load_demo``: the demo alliance, its two communities and one login per role."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.core import demo


def _start_over_hint() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return (
            f"To start over, delete the database file and load again:\n"
            f"  rm {db['NAME']}\n"
            f"  python manage.py migrate && python manage.py load_demo"
        )
    return (
        f"To start over, drop and recreate the database {db['NAME']}, then:\n"
        f"  python manage.py migrate && python manage.py load_demo"
    )


class Command(BaseCommand):
    help = (
        "Load the demo alliance (普陀互助联盟): the 60-building compound of seed 000 and a small "
        "second community, volunteers with skills and availability, functional groups, job "
        "descriptions and one login per role. Deterministic for a given --seed. Does nothing if "
        "the demo is already loaded (audit rows are append-only, so there is no reset: start "
        "over with a fresh database)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"random seed (default {demo.DEFAULT_SEED})",
        )
        parser.add_argument(
            "--small",
            action="store_true",
            help="a few dozen households and people instead of 7,400 (for tests)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if demo.demo_exists():
            self.stdout.write(
                self.style.WARNING(
                    f"The demo alliance {demo.ALLIANCE_NAME} is already loaded; nothing to do."
                )
            )
            self.stdout.write(_start_over_hint())
            self.stdout.write("")
            self.stdout.write(demo.login_table())
            return
        started = time.perf_counter()
        try:
            result = demo.load(seed=options["seed"], small=options["small"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {demo.ALLIANCE_NAME} / {demo.ALLIANCE_NAME_EN} "
                f"(seed {result.seed}) in {elapsed:.1f} s:"
            )
        )
        for community in result.communities:
            self.stdout.write(f"  community: {community.name} / {community.name_en}")
        for key, value in result.counts.items():
            self.stdout.write(f"  {key}: {value:,}")
        self.stdout.write("")
        self.stdout.write("Demo logins (log in with the phone number and the password):")
        self.stdout.write(demo.login_table())
        self.stdout.write(_start_over_hint())
