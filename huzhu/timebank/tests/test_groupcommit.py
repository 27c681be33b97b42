"""Group commit of ledger postings (``huzhu.timebank.groupcommit`` and the PL/pgSQL function of
migration 0008) on PostgreSQL: postings of concurrent callers share a batch and a commit, each is
judged on its own and in order, a repeated key in one batch is written once, a failed batch is
posted again one by one, a posting inside the caller's transaction never goes to the writer, a
refusal speaks the caller's language, and a process killed in the middle of a batch leaves none
of the batch written and every acknowledged posting there exactly once.

The writer is held at its batch statement by an execute wrapper installed by the test only
(``groupcommit.execute_wrappers``), never by product code, so that the batch's content is known.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import translation

from huzhu.core.errors import DomainError
from huzhu.timebank import actions, groupcommit
from huzhu.timebank.models import Account, Posting, Transaction
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.threads import database_url

pytestmark = pytest.mark.postgres

ROOT = Path(settings.BASE_DIR)
TIMEOUT = 120


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "group commit writes through a PL/pgSQL function from a thread with its own "
            f"connection: it needs PostgreSQL (this run uses {connection.vendor}); "
            "set DATABASE_URL=postgres://..."
        )


def _balance(account: Account) -> int:
    return int(Account.objects.values_list("balance", flat=True).get(pk=account.pk))


@pytest.fixture
def books(transactional_db: Any, cast: Any) -> dict[str, Account]:
    _need_postgres()
    community = cast.volunteer.community
    out: dict[str, Account] = {}
    for role in ("volunteer", "resident", "building_manager"):
        person = cast[role]
        actions.credit_service(
            actor=None, volunteer=person, hours=Decimal(10), community=community, key=f"gc-{role}"
        )
        out[role] = Account.objects.get(pk=actions.person_account(person).pk)
    groupcommit.stop()  # the credits above went through the writer: start each test afresh
    return out


class Gate:
    """Holds the writer at the start of the batch statements numbered in ``hold`` (1-based)
    until each is released; records the size of every batch and the writer's backend pid."""

    def __init__(self, hold: tuple[int, ...] = (1,)) -> None:
        self.entered = {n: threading.Event() for n in hold}
        self.released = {n: threading.Event() for n in hold}
        self.sizes: list[int] = []
        self.backend_pid = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith(groupcommit.STATEMENT_PREFIX):
            self.sizes.append(len(groupcommit.batch_keys(params)))
            n = len(self.sizes)
            if n in self.entered:
                self.backend_pid = connection.connection.info.backend_pid
                self.entered[n].set()
                self.released[n].wait(TIMEOUT)
        return execute(sql, params, many, context)

    def release(self) -> None:
        for event in self.released.values():
            event.set()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    g = Gate()
    monkeypatch.setattr(groupcommit, "execute_wrappers", [g])
    return g


class Call:
    """One call of an action from a thread of its own (a request of a server)."""

    def __init__(self, fn: Callable[[], Any], language: str | None = None) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.fn = fn
        self.language = language
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            if self.language:
                with translation.override(self.language):
                    self.result = self.fn()
            else:
                self.result = self.fn()
        except BaseException as exc:  # judged by the test
            self.error = exc
        finally:
            connections.close_all()

    def join(self) -> Call:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the call did not return"
        return self


def _transfer(payer: Account, payee: Account, amount: int, key: str) -> Callable[[], Any]:
    def run() -> Any:
        return actions.transfer(
            actor=None,
            payer=Account.objects.get(pk=payer.pk),
            payee=Account.objects.get(pk=payee.pk),
            amount=amount,
            key=key,
        )

    return run


def _wait_queued(n: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while groupcommit.writer._queue.qsize() < n:
        assert time.monotonic() < deadline, "the calls never reached the writer"
        time.sleep(0.01)


def _open_batch(gate: Gate, payer: Account, payee: Account) -> Call:
    """A first posting, held at the writer's statement: what comes next queues behind it."""
    opener = Call(_transfer(payer, payee, 1, "gc-opener"))
    assert gate.entered[1].wait(TIMEOUT)
    return opener


def test_concurrent_postings_share_one_batch_and_each_is_judged_alone_in_order(
    books: dict[str, Account], gate: Gate
) -> None:
    vol, res, mgr = books["volunteer"], books["resident"], books["building_manager"]
    res_start = _balance(res)
    opener = _open_batch(gate, mgr, vol)
    calls = {
        # The resident receives 100 first ...
        "a": Call(_transfer(vol, res, 100, "gc-a")),
    }
    _wait_queued(1)
    # ... and may then spend all of it, which they could not before the batch.
    calls["b"] = Call(_transfer(res, mgr, res_start + 100, "gc-b"))
    _wait_queued(2)
    calls["c"] = Call(_transfer(res, mgr, 1, "gc-c"))  # nothing left by then
    _wait_queued(3)
    calls["a-again"] = Call(_transfer(vol, res, 100, "gc-a"))  # the same key, same batch
    _wait_queued(4)
    ghost = Account(pk=10**12, kind="person", community_id=vol.community_id)
    calls["ghost"] = Call(
        lambda: actions.transfer(actor=None, payer=vol, payee=ghost, amount=5, key="gc-ghost")
    )
    _wait_queued(5)
    gate.release()
    opener.join()
    for call in calls.values():
        call.join()

    assert gate.sizes == [1, 4]  # the opener alone; then a, b, c, ghost (a-again joins a)
    assert opener.error is None
    assert calls["a"].error is None and calls["b"].error is None
    a, b = calls["a"].result, calls["b"].result
    assert calls["a-again"].error is None and calls["a-again"].result.pk == a.pk
    err = calls["c"].error
    assert isinstance(err, DomainError) and err.code == "timebank.insufficient"
    assert err.details == {"account": res.pk, "available": 0}
    ghost_err = calls["ghost"].error
    assert isinstance(ghost_err, DomainError) and ghost_err.code == "timebank.account.unknown"

    assert Transaction.objects.filter(idempotency_key="gc-a").count() == 1
    assert not Transaction.objects.filter(idempotency_key__in=["gc-c", "gc-ghost"]).exists()
    assert Posting.objects.filter(transaction=b).count() == 2
    assert _balance(res) == 0
    assert journal_sum() == 0
    assert recompute_balances() == []


def test_a_refusal_in_a_batch_speaks_the_callers_language(
    books: dict[str, Account], gate: Gate
) -> None:
    vol, res, mgr = books["volunteer"], books["resident"], books["building_manager"]
    opener = _open_batch(gate, mgr, vol)
    zh = Call(_transfer(res, vol, 10**9, "gc-zh"))
    en = Call(_transfer(res, vol, 10**9, "gc-en"), language="en")
    _wait_queued(2)
    gate.release()
    opener.join(), zh.join(), en.join()
    assert gate.sizes == [1, 2]
    assert isinstance(zh.error, DomainError) and zh.error.message == "积分余额不足。"
    assert isinstance(en.error, DomainError)
    assert en.error.message == "Not enough points available."


def test_a_failed_batch_is_rolled_back_and_posted_again_one_by_one(
    books: dict[str, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's database backend ends while it holds a batch of three: the batch fails,
    nothing of it is written, and each caller posts its own posting once through the single
    path; the writer goes on with a new connection."""
    gate = Gate(hold=(1, 2))
    monkeypatch.setattr(groupcommit, "execute_wrappers", [gate])
    vol, res, mgr = books["volunteer"], books["resident"], books["building_manager"]
    before = {a.pk: _balance(a) for a in (vol, res, mgr)}
    opener = _open_batch(gate, mgr, vol)
    calls = [Call(_transfer(vol, res, 7, f"gc-fail-{i}")) for i in range(3)]
    _wait_queued(3)
    gate.released[1].set()
    opener.join()
    assert gate.entered[2].wait(TIMEOUT)
    assert gate.sizes == [1, 3]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [gate.backend_pid])
    gate.released[2].set()
    for call in calls:
        call.join()
    assert opener.error is None and all(c.error is None for c in calls)
    assert Transaction.objects.filter(idempotency_key__startswith="gc-fail-").count() == 3
    assert _balance(res) == before[res.pk] + 21
    assert _balance(vol) == before[vol.pk] - 21 + 1
    assert _balance(mgr) == before[mgr.pk] - 1
    assert journal_sum() == 0
    assert recompute_balances() == []
    # The writer takes the next posting on a new connection.
    again = Call(_transfer(vol, res, 1, "gc-after")).join()
    assert again.error is None
    assert gate.sizes == [1, 3, 1]
    assert Transaction.objects.filter(idempotency_key="gc-after").count() == 1


def test_a_posting_inside_the_callers_transaction_never_goes_to_the_writer(
    books: dict[str, Account], gate: Gate
) -> None:
    vol, res = books["volunteer"], books["resident"]
    with transaction.atomic():
        tx = actions.transfer(actor=None, payer=vol, payee=res, amount=3, key="gc-inner")
        assert Transaction.objects.filter(pk=tx.pk).exists()
    assert gate.sizes == []
    assert groupcommit.writer._thread is None
    # Outside a transaction the same call goes through the writer.
    gate.release()
    actions.transfer(actor=None, payer=vol, payee=res, amount=3, key="gc-outer")
    assert gate.sizes == [1]


def test_switched_off_each_posting_commits_on_its_own(
    books: dict[str, Account], gate: Gate, settings: Any
) -> None:
    settings.HUZHU_LEDGER_GROUP_COMMIT = False
    vol, res = books["volunteer"], books["resident"]
    actions.transfer(actor=None, payer=vol, payee=res, amount=3, key="gc-off")
    assert gate.sizes == []
    assert Transaction.objects.filter(idempotency_key="gc-off").count() == 1


# --- kill -9 in the middle of a batch ---------------------------------------------------------

CHILD = r"""
import json, sys, threading
import django
django.setup()
from django.db import connection, connections
from huzhu.core.errors import DomainError
from huzhu.timebank import actions, groupcommit
from huzhu.timebank.models import Account

cfg = json.loads(sys.argv[1])
out = threading.Lock()

def say(text):
    with out:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

def pause(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    keys = groupcommit.batch_keys(params) if sql.startswith(groupcommit.STATEMENT_PREFIX) else []
    if len(keys) >= cfg["min_batch"]:
        say("MID " + json.dumps(keys))
        sys.stdin.readline()  # the parent kills us here
    return result

groupcommit.execute_wrappers.append(pause)
accounts = {a.pk: a for a in Account.objects.filter(pk__in=cfg["accounts"])}
ids = cfg["accounts"]

def work(t):
    for i in range(200):
        payer, payee = ids[(t + i) % len(ids)], ids[(t + i + 1) % len(ids)]
        key = f"{cfg['tag']}-{t}-{i}"
        try:
            actions.transfer(actor=None, payer=Account.objects.get(pk=payer),
                             payee=Account.objects.get(pk=payee), amount=1, key=key)
            say("OK " + key)
        except DomainError:
            pass
    connections.close_all()

threads = [threading.Thread(target=work, args=(t,)) for t in range(cfg["threads"])]
for t in threads:
    t.start()
for t in threads:
    t.join()
say("DONE")
"""


def test_kill_9_in_the_middle_of_a_batch_leaves_the_batch_out_and_every_ack_in(
    books: dict[str, Account],
) -> None:
    accounts = list(books.values())
    tag = "gc-kill"
    cfg = {"accounts": [a.pk for a in accounts], "threads": 6, "min_batch": 3, "tag": tag}
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HUZHU_DB_CONN_MAX_AGE": "0",
    }
    proc = subprocess.Popen(  # noqa: S603 - the test's own child script
        [sys.executable, "-c", CHILD, json.dumps(cfg)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    batch: list[str] = []
    for line in proc.stdout:
        if line.startswith("OK "):
            acked.append(line.split()[1])
        elif line.startswith("MID "):
            batch = json.loads(line[4:])
            break
        else:
            break
    if not batch:
        proc.kill()
        _out, err = proc.communicate(timeout=TIMEOUT)
        pytest.fail(f"the child never wrote a batch of 3 or more: {err[-2000:]}")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL

    assert len(batch) >= 3
    assert not Transaction.objects.filter(idempotency_key__in=batch).exists()
    stored = list(
        Transaction.objects.filter(idempotency_key__startswith=f"{tag}-").values_list(
            "idempotency_key", flat=True
        )
    )
    assert sorted(stored) == sorted(acked)  # every ack is there, once; nothing else
    assert journal_sum() == 0
    assert recompute_balances() == []
    # The batch's keys are free: sent again, each is posted exactly once.
    by_pk = {a.pk: a for a in accounts}
    for key in batch:
        t, i = (int(x) for x in key.rsplit("-", 2)[1:])
        ids = cfg["accounts"]
        payer, payee = ids[(t + i) % len(ids)], ids[(t + i + 1) % len(ids)]
        for _ in range(2):
            actions.transfer(
                actor=None,
                payer=Account.objects.get(pk=by_pk[payer].pk),
                payee=Account.objects.get(pk=by_pk[payee].pk),
                amount=1,
                key=key,
            )
    assert Transaction.objects.filter(idempotency_key__in=batch).count() == len(batch)
    assert recompute_balances() == []
