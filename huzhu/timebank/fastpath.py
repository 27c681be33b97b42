"""One posting of the ledger in one database round trip, on PostgreSQL.

``huzhu.timebank.actions.ledger.post_transaction`` checks its arguments, computes the lines
(with the clearing postings) and then, on PostgreSQL, calls :func:`post` here instead of its
ORM statements: one ``SELECT … FROM timebank_post(...)`` (the PL/pgSQL function of migration
``timebank/0005_post_function``) locks the accounts in primary-key order, checks the available
balances, writes the transaction, its postings, the balances and the audit entry, and answers
the transaction id. The commit stays the caller's (``transaction.atomic``).

The audit entry is built here the way ``huzhu.audit.service.record`` builds it (same columns,
same masking, same labels); only the transaction's id is filled in by the function.

Errors of the function map to the same DomainErrors as the ORM path: SQLSTATE ``HZ409``
→ "timebank.insufficient" (409), ``HZ404`` → "timebank.account.unknown", ``HZ410`` (and a
concurrent unique violation of ``reverses``) → "timebank.reversal.already" (409).

Switched off by the setting ``HUZHU_LEDGER_FASTPATH`` (the environment variable of that name,
``0`` or ``false``; default on); never used on SQLite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection
from django.db.backends.utils import CursorWrapper
from django.utils.translation import gettext as _

from huzhu.audit.service import entry_fields
from huzhu.core.errors import ConflictError, DomainError
from huzhu.timebank.models import Transaction, TransactionKind

FUNCTION = "timebank_post"
_LABELS = {k.value: k.label for k in TransactionKind}  # lazy: shown in the active language
INSUFFICIENT = "HZ409"
UNKNOWN_ACCOUNT = "HZ404"
ALREADY_REVERSED = "HZ410"
REVERSES_UNIQUE = "timebank_transaction_reverses_id_key"

# How the one statement starts (for tests and benchmarks that stop a worker right after it).
STATEMENT_PREFIX = "SELECT tx_id, created, account_ids, balances, helds FROM timebank_post("
SQL = (
    STATEMENT_PREFIX
    + "%s::text, %s::text, %s::text, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::text, "
    "%s::text, %s::integer, %s::text, %s::timestamptz, "
    "%s::bigint[], %s::bigint[], %s::bigint[], %s::jsonb)"
)


class _Prepared(psycopg.Cursor[Any]):
    """A server-side binding cursor whose statements are prepared on first use: the
    parameters travel apart from the SQL (no client-side quoting of the arrays) and PostgreSQL
    parses and plans the call once per connection."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        kwargs.setdefault("binary", True)
        return super().execute(query, params, **kwargs)


@contextlib.contextmanager
def bound_cursor() -> Iterator[CursorWrapper]:
    """A cursor of Django's connection for the ledger's functions: Django's wrapper (so
    ``connection.execute_wrapper`` hooks and error translation still apply) around a prepared,
    server-bound psycopg cursor (Django's own cursors bind on the client side)."""
    connection.ensure_connection()
    raw = _Prepared(connection.connection)
    try:
        # as Django wraps its own cursors: with query logging when queries are logged
        cursor: Any = raw  # (the stubs type these methods' argument as Django's wrapper)
        if connection.queries_logged:
            yield connection.make_debug_cursor(cursor)
        else:
            yield connection.make_cursor(cursor)
    finally:
        raw.close()


def enabled() -> bool:
    """The fast path posts: on PostgreSQL, unless switched off by the setting
    ``HUZHU_LEDGER_FASTPATH`` (environment variable of that name, default on; off, the ORM path
    posts, as on SQLite)."""
    if connection.vendor != "postgresql":
        return False
    return bool(getattr(settings, "HUZHU_LEDGER_FASTPATH", True))


@dataclass(frozen=True)
class Line:
    """One posting: account id, signed hundredths, the posting's community."""

    account_id: int
    amount: int
    community_id: int | None


@dataclass(frozen=True)
class Outcome:
    """What the function did: the transaction id, whether it was written now (False: the key
    existed), and the touched accounts' (balance, held) after it (empty on a replay)."""

    transaction_id: int
    created: bool
    balances: dict[int, tuple[int, int]]


def insufficient(account_id: int, available: int) -> DomainError:
    """The ORM path's "timebank.insufficient" error (409)."""
    return DomainError(
        "timebank.insufficient",
        _("积分余额不足。"),
        details={"account": account_id, "available": available},
        status=409,
    )


def unknown_account() -> DomainError:
    return DomainError("timebank.account.unknown", _("积分账户不存在。"))


def already_reversed(reverses_id: int) -> ConflictError:
    return ConflictError(
        "timebank.reversal.already",
        _("该交易已被冲正，不能重复冲正。"),
        details={"tx": reverses_id},
    )


def audit_row(
    code: str,
    *,
    actor: Any,
    kind: str,
    community: Any,
    on_behalf_of: Any,
    new: dict[str, Any],
) -> dict[str, Any]:
    """The audit entry of a posting, column by column, as ``huzhu.audit.service.record``
    writes it with ``target`` = the new transaction (the function adds its id)."""
    row = entry_fields(code, actor=actor, community=community, new=new, on_behalf_of=on_behalf_of)
    del row["target_id"]  # the function sets it to the new transaction's id
    row["created_at"] = row["created_at"].isoformat()
    row["target_type"] = Transaction._meta.label_lower
    # str(Transaction) is "<kind label> #<pk>"; the function appends the pk.
    row["target_label"] = f"{_LABELS[kind]} #"
    return row


def post(
    *,
    key: str,
    kind: str,
    memo: str,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    community_id: int | None,
    reverses_id: int | None,
    reason: str,
    evidence: str,
    service_minutes: int,
    reference: str,
    created_at: dt.datetime,
    lines: Sequence[Line],
    audit: dict[str, Any] | None,
) -> Outcome:
    """Post in one round trip; must run inside the action's ``transaction.atomic``.

    A DomainError raised here leaves the database transaction aborted: the caller's atomic
    block rolls it back (to its savepoint when nested), as with any failed statement.
    """
    params: list[Any] = [
        key,
        kind,
        memo,
        actor_id,
        on_behalf_of_id,
        community_id,
        reverses_id,
        reason,
        evidence,
        service_minutes,
        reference,
        created_at,
        [line.account_id for line in lines],
        [line.amount for line in lines],
        [line.community_id for line in lines],
        json.dumps(audit, ensure_ascii=False) if audit is not None else None,
    ]
    try:
        with bound_cursor() as cursor:
            cursor.execute(SQL, params)
            row = cursor.fetchone()
    except IntegrityError as exc:
        if reverses_id is not None and _constraint(exc) == REVERSES_UNIQUE:
            raise already_reversed(reverses_id) from None
        raise
    except DatabaseError as exc:
        state = _sqlstate(exc)
        if state == INSUFFICIENT:
            detail = json.loads(_detail(exc) or "{}")
            raise insufficient(int(detail["account"]), int(detail["available"])) from None
        if state == UNKNOWN_ACCOUNT:
            raise unknown_account() from None
        if state == ALREADY_REVERSED and reverses_id is not None:
            raise already_reversed(reverses_id) from None
        raise
    tx_id, created, ids, balances, helds = row
    by_pk: dict[int, tuple[int, int]] = {}
    if created:
        by_pk = {int(pk): (int(b), int(h)) for pk, b, h in zip(ids, balances, helds, strict=True)}
    return Outcome(transaction_id=int(tx_id), created=bool(created), balances=by_pk)


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) if cause is not None else None


def _diag(exc: BaseException, name: str) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    value = getattr(diag, name, None) if diag is not None else None
    return str(value) if value is not None else None


def _detail(exc: BaseException) -> str | None:
    return _diag(exc, "message_detail")


def _constraint(exc: BaseException) -> str | None:
    return _diag(exc, "constraint_name")
