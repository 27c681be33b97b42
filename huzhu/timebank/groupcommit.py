"""Group commit of ledger postings, on PostgreSQL.

A posting that is a whole unit of work on its own (the caller is in autocommit mode, not inside
``transaction.atomic``: a transfer through the API, a payment at a till) does not need its own
database transaction: one writer thread per process takes every posting that concurrent requests
handed over while it was writing the previous batch, writes them with one statement
(``timebank_post_batch``, migration ``timebank/0008_post_batch_function``) and one commit, and
only then answers each caller. Nothing is acknowledged before its commit; a batch that fails
writes nothing (one transaction) and each of its postings is posted again on its own, by its
caller, through the single-posting path — the idempotency key makes that safe even when the
failure hid a commit that did happen.

Each posting of a batch is judged on its own, in arrival order, by the same rules as a single
posting (locks in primary-key order, replay of a known key, person balances never below what is
held): one refused posting does not touch the others. Two postings with the same key in one
batch are written once; the second is answered as a replay of the first (or with its error).

With no concurrency a batch holds one posting and costs one hand-over between threads; under
load, batches grow by themselves (no timer, no added wait).

Switched off by the setting ``HUZHU_LEDGER_GROUP_COMMIT`` (environment variable of that name,
``0`` or ``false``; default on); used only where the fast path is (``huzhu.timebank.fastpath``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from huzhu.timebank import fastpath

MAX_BATCH = 256

# How the batch statement starts (for tests and benchmarks that stop the writer right after it).
STATEMENT_PREFIX = (
    "SELECT n, status, tx_id, short_account, available, account_ids, balances, helds "
    "FROM timebank_post_batch("
)


def _column(n: int, sql_type: str) -> str:
    """Column ``n`` of the batch's JSON document as a ``sql_type`` array, in order."""
    return (
        f"ARRAY(SELECT e::{sql_type} FROM jsonb_array_elements_text(%(b)s::jsonb -> {n}) "  # noqa: S608 - constants of _COLUMNS
        "WITH ORDINALITY AS c(e, i) ORDER BY i)"
    )


# The batch travels as one JSON document, a list of columns, unpacked into the function's
# arrays by PostgreSQL: psycopg would otherwise quote and escape every element of fifteen array
# parameters in Python, which costs more than the batch's own SQL at small batch sizes.
_COLUMNS = (
    "text",  # keys
    "text",  # kinds
    "text",  # memos
    "bigint",  # actors
    "bigint",  # on behalf of
    "bigint",  # communities
    "text",  # reasons
    "integer",  # service minutes
    "text",  # references
    "timestamptz",  # created at
    "jsonb",  # audit entries (JSON null → SQL NULL)
    "integer",  # line → item number
    "bigint",  # line account
    "bigint",  # line amount
    "bigint",  # line community
)
SQL = STATEMENT_PREFIX + ", ".join(_column(n, t) for n, t in enumerate(_COLUMNS)) + ")"


def batch_keys(params: dict[str, str]) -> list[str]:
    """The idempotency keys of the batch a statement's ``params`` carry (for the execute
    wrappers of tests and benchmarks)."""
    keys: list[str] = json.loads(params["b"])[0]
    return keys


# Execute wrappers (``connection.execute_wrapper``) installed on the writer's connection when
# the writer starts: instrumentation, and the crash tests' pause points.
execute_wrappers: list[Callable[..., Any]] = []


class BatchFailed(RuntimeError):
    """The batch holding this posting was rolled back; post it again on its own."""


@dataclass(frozen=True)
class Item:
    """One posting handed over to the writer: the arguments of ``fastpath.post`` but
    ``reverses_id`` and ``evidence`` (reversals are always posted on their own)."""

    key: str
    kind: str
    memo: str
    actor_id: int | None
    on_behalf_of_id: int | None
    community_id: int | None
    reason: str
    service_minutes: int
    reference: str
    created_at: dt.datetime
    lines: Sequence[fastpath.Line]
    audit: dict[str, Any] | None


# Why the function refused an item: ("insufficient", account, available) or ("unknown",). The
# DomainError is built in the caller's thread, in the caller's language.
Refusal = tuple[Any, ...]


class _Ticket:
    __slots__ = ("done", "error", "item", "outcome", "refusal")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.outcome: fastpath.Outcome | None = None
        self.refusal: Refusal | None = None
        self.error: BaseException | None = None

    def answer(
        self,
        outcome: fastpath.Outcome | None,
        refusal: Refusal | None = None,
        error: BaseException | None = None,
    ) -> None:
        self.outcome, self.refusal, self.error = outcome, refusal, error
        self.done.set()


_STOP = object()


def enabled() -> bool:
    return bool(getattr(settings, "HUZHU_LEDGER_GROUP_COMMIT", True))


def usable() -> bool:
    """Group commit may take a posting of the calling thread: switched on, the fast path in use,
    and the caller not inside a database transaction of its own (a posting inside the caller's
    transaction must commit or roll back with it)."""
    return (
        enabled()
        and fastpath.enabled()
        and not connection.in_atomic_block
        and connection.get_autocommit()
    )


class Writer:
    """The writer thread of one process and its queue."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.batches = 0  # batches written (statistics for tests and the benchmark)
        self.postings = 0

    # --------------------------------------------------------------- the callers' side

    def post(self, item: Item) -> fastpath.Outcome:
        """Hand ``item`` over and wait for its commit. Raises the posting's DomainError, or
        BatchFailed when its batch was rolled back."""
        ticket = _Ticket(item)
        self._ensure_running()
        self._queue.put(ticket)
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        if ticket.refusal is not None:
            if ticket.refusal[0] == "insufficient":
                raise fastpath.insufficient(int(ticket.refusal[1]), int(ticket.refusal[2]))
            raise fastpath.unknown_account()
        assert ticket.outcome is not None
        return ticket.outcome

    def _ensure_running(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            # A forked child does not inherit the parent's thread: start its own.
            self._queue = queue.SimpleQueue()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="huzhu-ledger-group-commit", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the writer after what is queued and close its connection (tests, shutdown)."""
        with self._lock:
            thread = self._thread
            if thread is None or self._pid != os.getpid() or not thread.is_alive():
                self._thread = None
                return
            self._queue.put(_STOP)
            thread.join(timeout)
            self._thread = None

    # --------------------------------------------------------------- the writer's side

    def _run(self) -> None:
        with contextlib.ExitStack() as stack:
            for wrapper in list(execute_wrappers):
                stack.enter_context(connection.execute_wrapper(wrapper))
            try:
                while True:
                    first = self._queue.get()
                    if first is _STOP:
                        return
                    batch: list[_Ticket] = [first]
                    stop = False
                    while len(batch) < self.max_batch:
                        try:
                            nxt = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if nxt is _STOP:
                            stop = True
                            break
                        batch.append(nxt)
                    self._write(batch)
                    if stop:
                        return
            finally:
                connection.close()

    def _write(self, batch: list[_Ticket]) -> None:
        leaders: dict[str, _Ticket] = {}
        followers: list[_Ticket] = []
        for ticket in batch:
            if ticket.item.key in leaders:
                followers.append(ticket)
            else:
                leaders[ticket.item.key] = ticket
        tickets = list(leaders.values())
        try:
            rows = self._execute([t.item for t in tickets])
        except BaseException as exc:  # every caller must be answered, whatever went wrong
            failed = BatchFailed(f"ledger batch of {len(tickets)} rolled back: {exc!r}")
            failed.__cause__ = exc
            for ticket in batch:
                ticket.answer(None, error=failed)
            with contextlib.suppress(Exception):
                if not connection.is_usable():
                    connection.close()
            return
        self.batches += 1
        self.postings += len(tickets)
        for ticket, row in zip(tickets, rows, strict=True):
            ticket.answer(*_result(row))
        for ticket in followers:
            leader = leaders[ticket.item.key]
            if leader.outcome is not None:
                ticket.answer(
                    fastpath.Outcome(leader.outcome.transaction_id, created=False, balances={})
                )
            else:
                ticket.answer(None, leader.refusal)

    def _execute(self, items: Sequence[Item]) -> list[tuple[Any, ...]]:
        line_items: list[int] = []
        line_accounts: list[int] = []
        line_amounts: list[int] = []
        line_communities: list[int | None] = []
        for n, item in enumerate(items, start=1):
            for line in item.lines:
                line_items.append(n)
                line_accounts.append(line.account_id)
                line_amounts.append(line.amount)
                line_communities.append(line.community_id)
        columns: list[Any] = [
            [i.key for i in items],
            [i.kind for i in items],
            [i.memo for i in items],
            [i.actor_id for i in items],
            [i.on_behalf_of_id for i in items],
            [i.community_id for i in items],
            [i.reason for i in items],
            [i.service_minutes for i in items],
            [i.reference for i in items],
            [i.created_at.isoformat() for i in items],
            # jsonb_array_elements_text gives each audit entry as its JSON text
            [i.audit for i in items],
            line_items,
            line_accounts,
            line_amounts,
            line_communities,
        ]
        params = {"b": json.dumps(columns, ensure_ascii=False, separators=(",", ":"))}
        with transaction.atomic(), fastpath.bound_cursor() as cursor:
            cursor.execute(SQL, params)
            return list(cursor.fetchall())


def _result(row: tuple[Any, ...]) -> tuple[fastpath.Outcome | None, Refusal | None]:
    _n, status, tx_id, short, available, ids, balances, helds = row
    if status == "created":
        by_pk = {int(pk): (int(b), int(h)) for pk, b, h in zip(ids, balances, helds, strict=True)}
        return fastpath.Outcome(int(tx_id), created=True, balances=by_pk), None
    if status == "replay":
        return fastpath.Outcome(int(tx_id), created=False, balances={}), None
    if status == "insufficient":
        return None, ("insufficient", int(short), int(available))
    return None, ("unknown",)


writer = Writer()


def post(item: Item) -> fastpath.Outcome:
    """Post ``item`` through this process's writer (see the module's docstring)."""
    return writer.post(item)


def stop() -> None:
    """Stop this process's writer, if it runs (tests between cases; shutdown)."""
    writer.stop()
