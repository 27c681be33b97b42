"""``manage.py rotate_pii_keys``: re-encrypt every PII value with the current key.

Rotation: put a new key in front of ``HUZHU_PII_KEYS`` (``new:…,old:…``), deploy, run this
command, then remove the old key. After a change of ``HUZHU_PII_INDEX_KEY`` the same command
recomputes the blind indexes (lookup by phone or ID number) from the decrypted values.

Every ``EncryptedTextField`` of every installed model is found by introspection. Rows are read
in primary-key order, in batches, each batch in its own transaction with the rows locked, so the
command can run while the site is up and can be re-run after an interruption.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast

from huzhu.accounts import pii
from huzhu.core.models import AppendOnlyModel

# Blind indexes: model label → (hash column, encrypted source column, index function).
# An empty source value has no index (NULL when the column allows it, else "").
BLIND_INDEXES: dict[str, tuple[tuple[str, str, Callable[[str], str]], ...]] = {
    "accounts.Person": (
        ("phone_hash", "phone", pii.phone_index),
        ("id_number_hash", "id_number", pii.id_number_index),
    ),
}


@dataclass
class ModelReport:
    label: str
    rows: int = 0
    stale_values: int = 0  # encrypted under a key other than the current one
    stale_indexes: int = 0  # blind index differs from the one computed with the current key
    stale_rows: int = 0  # rows with a stale value or index (rewritten unless a dry run)


def encrypted_fields(model: type[models.Model]) -> list[pii.EncryptedTextField]:
    return [f for f in model._meta.local_concrete_fields if isinstance(f, pii.EncryptedTextField)]


def models_with_pii() -> list[tuple[type[models.Model], list[pii.EncryptedTextField]]]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = encrypted_fields(model)
        if fields:
            found.append((model, fields))
    return found


def _raw_name(field: models.Field[Any, Any]) -> str:
    return f"_raw_{field.attname}"


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted PII value with the first key of HUZHU_PII_KEYS and "
        "recompute the blind indexes with HUZHU_PII_INDEX_KEY. --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count values under a non-current key; change nothing",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            current = pii.current_key_id()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Current key: {current}" + (" (dry run)" if dry_run else ""))
        reports: list[ModelReport] = []
        refused: list[str] = []
        for model, fields in models_with_pii():
            report = ModelReport(model._meta.label)
            if issubclass(model, AppendOnlyModel):
                # Append-only rows cannot be rewritten (the ORM and a trigger refuse).
                refused.append(report.label)
            self._rotate_model(
                model,
                fields,
                report,
                current,
                batch_size,
                dry_run or issubclass(model, AppendOnlyModel),
            )
            reports.append(report)
            verb = "to rewrite" if dry_run else "rewritten"
            self.stdout.write(
                f"{report.label}: {report.rows} rows, {report.stale_values} values under an old "
                f"key, {report.stale_indexes} stale blind indexes; {report.stale_rows} rows "
                f"{verb}"
            )
        stale = sum(r.stale_values for r in reports)
        stale_idx = sum(r.stale_indexes for r in reports)
        if refused:
            raise CommandError(
                f"append-only models hold encrypted values and were not rewritten: "
                f"{', '.join(refused)}; keep their keys configured"
            )
        if dry_run:
            self.stdout.write(
                f"Dry run: {stale} values under a non-current key, {stale_idx} stale blind indexes."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Done: {stale} values re-encrypted with key {current}, {stale_idx} blind "
                    f"indexes recomputed. Keys other than {current} may now be removed."
                )
            )

    def _rotate_model(
        self,
        model: type[models.Model],
        fields: list[pii.EncryptedTextField],
        report: ModelReport,
        current: str,
        batch_size: int,
        dry_run: bool,
    ) -> None:
        indexes = BLIND_INDEXES.get(model._meta.label, ())
        index_fields = {hash_col: model._meta.get_field(hash_col) for hash_col, _, _ in indexes}
        manager = model._base_manager
        # Cast to plain text so that the ciphertext is read as stored, not decrypted.
        raw = {_raw_name(f): Cast(f.attname, output_field=models.TextField()) for f in fields}
        last_pk: Any = None
        while True:
            with transaction.atomic():
                qs = manager.order_by("pk")
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                if not dry_run:
                    qs = qs.select_for_update()
                rows = list(qs.annotate(**raw).values("pk", *raw, *index_fields)[:batch_size])
                if not rows:
                    return
                last_pk = rows[-1]["pk"]
                changed: list[models.Model] = []
                for row in rows:
                    report.rows += 1
                    obj, dirty = self._row(
                        model, fields, indexes, index_fields, row, current, report
                    )
                    if dirty:
                        changed.append(obj)
                report.stale_rows += len(changed)
                if changed and not dry_run:
                    manager.bulk_update(changed, [f.attname for f in fields] + list(index_fields))

    def _row(
        self,
        model: type[models.Model],
        fields: list[pii.EncryptedTextField],
        indexes: tuple[tuple[str, str, Callable[[str], str]], ...],
        index_fields: dict[str, Any],
        row: dict[str, Any],
        current: str,
        report: ModelReport,
    ) -> tuple[models.Model, bool]:
        obj = model(pk=row["pk"])
        plain: dict[str, str | None] = {}
        dirty = False
        for f in fields:
            token: str | None = row[_raw_name(f)]
            if token is None or token == "":
                plain[f.attname] = token
            else:
                try:
                    plain[f.attname] = pii.decrypt(token)
                except (ImproperlyConfigured, InvalidTag, ValueError) as exc:
                    raise CommandError(
                        f"{model._meta.label} pk={row['pk']} field {f.attname}: cannot decrypt "
                        f"({exc or type(exc).__name__}); is every old key in HUZHU_PII_KEYS?"
                    ) from exc
                if pii.key_id_of(token) != current:
                    report.stale_values += 1
                    dirty = True
            setattr(obj, f.attname, plain[f.attname])
        for hash_col, source, index in indexes:
            value = plain.get(source) or ""
            expected: str | None = index(value) if value else None
            if expected is None and not index_fields[hash_col].null:
                expected = ""
            if row[hash_col] != expected:
                report.stale_indexes += 1
                dirty = True
            setattr(obj, hash_col, expected)
        return obj, dirty
