"""Shared model bases."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from huzhu.core.errors import DomainError


def localized(name: str, name_en: str) -> str:
    """The English name in the English interface when there is one, else the Chinese name."""
    if name_en and (get_language() or "").startswith("en"):
        return name_en
    return name


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyError(DomainError):
    def __init__(self, model: str) -> None:
        super().__init__(
            "core.append_only",
            _("该记录只能追加，不能修改或删除。"),
            details={"model": model},
            status=409,
        )


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(self.model._meta.label)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(self.model._meta.label)


class AppendOnlyModel(models.Model):
    """Rows are written once and never updated or deleted (ledger, audit).

    The ORM refuses here; on PostgreSQL a trigger refuses as well (see the app's migrations).
    """

    objects: ClassVar[models.Manager[Any]] = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(self._meta.label)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(self._meta.label)


def append_only_trigger_sql(table: str) -> tuple[str, str]:
    """Forward/backward SQL for a PostgreSQL trigger that rejects UPDATE and DELETE on ``table``.

    TRUNCATE stays an owner's operation (restores, the test suite's flush); the application's
    database role should not own the tables in production (docs/architecture.md).
    """
    fn = f"{table}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'append-only table {table}: % refused', TG_OP USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {fn}_trg BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {fn}();
"""
    backward = f"""
DROP TRIGGER IF EXISTS {fn}_trg ON {table};
DROP FUNCTION IF EXISTS {fn}();
"""
    return forward, backward
