"""The one-round-trip posting (``huzhu.timebank.fastpath`` and the PL/pgSQL function of
migration 0005) on PostgreSQL: balanced postings, insufficient points, replays (also
concurrent), lock order, the audit entry identical to ``record()``'s, a crash between the
function and the commit; and the API token's throttled ``last_used_at`` (every database).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from huzhu.accounts import auth
from huzhu.accounts.models import ApiToken
from huzhu.audit.models import AuditEntry
from huzhu.audit.service import record
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.timebank import actions, fastpath
from huzhu.timebank.models import Account, AccountKind, Posting, Transaction
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.threads import database_url, in_threads

ROOT = Path(settings.BASE_DIR)
TIMEOUT = 120


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the one-round-trip posting is a PL/pgSQL function: it needs PostgreSQL "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def _post(
    lines: list[tuple[Account, int]],
    key: str,
    *,
    community: Any = None,
    reverses: Transaction | None = None,
    audit: bool = True,
) -> fastpath.Outcome:
    new = {
        "kind": "other",
        "memo": "fast",
        "postings": [f"{a.pk}:{amount}" for a, amount in lines],
        "reverses": reverses.pk if reverses is not None else None,
        "reference": "",
    }
    with transaction.atomic():
        return fastpath.post(
            key=key,
            kind="reversal" if reverses is not None else "other",
            memo="fast",
            actor_id=None,
            on_behalf_of_id=None,
            community_id=community.pk if community is not None else None,
            reverses_id=reverses.pk if reverses is not None else None,
            reason="",
            evidence="",
            service_minutes=0,
            reference="",
            created_at=clock.now(),
            lines=[
                fastpath.Line(a.pk, amount, a.community_id or (community and community.pk))
                for a, amount in lines
            ],
            audit=fastpath.audit_row(
                "timebank.transaction.posted",
                actor=None,
                kind="reversal" if reverses is not None else "other",
                community=community,
                on_behalf_of=None,
                new=new,
            )
            if audit
            else None,
        )


@pytest.fixture
def books(db: Any, cast: Any) -> tuple[Account, Account, Account]:
    """The community's issuing account, and two person accounts with 50.00 and 0 points."""
    _need_postgres()
    community = cast.volunteer.community
    actions.credit_service(
        actor=None, volunteer=cast.volunteer, hours=Decimal(50), community=community, key="seed"
    )
    issuing = actions.issuing_account(community)
    return (
        Account.objects.get(pk=issuing.pk),
        Account.objects.get(pk=actions.person_account(cast.volunteer).pk),
        Account.objects.get(pk=actions.person_account(cast.resident).pk),
    )


def _balance(account: Account) -> int:
    return int(Account.objects.values_list("balance", flat=True).get(pk=account.pk))


# --- the function ----------------------------------------------------------------------------


def test_a_balanced_posting_is_written_in_one_statement(
    books: tuple[Account, Account, Account], cast: Any
) -> None:
    _issuing, volunteer, resident = books
    community = cast.volunteer.community
    with CaptureQueriesContext(connection) as queries:
        outcome = _post([(volunteer, -1250), (resident, 1250)], "fast-1", community=community)
    statements = [q["sql"] for q in queries.captured_queries]
    # The test runs in a transaction: the action's atomic block is a savepoint here.
    assert [s.split("(")[0] for s in statements if "SAVEPOINT" not in s] == [
        "SELECT tx_id, created, account_ids, balances, helds FROM timebank_post"
    ]
    assert outcome.created is True
    tx = Transaction.objects.get(idempotency_key="fast-1")
    assert outcome.transaction_id == tx.pk
    assert (tx.kind, tx.memo, tx.community_id) == ("other", "fast", community.pk)
    assert list(tx.postings.order_by("pk").values_list("account_id", "amount")) == [
        (volunteer.pk, -1250),
        (resident.pk, 1250),
    ]
    assert _balance(volunteer) == 5000 - 1250
    assert _balance(resident) == 1250
    assert outcome.balances == {volunteer.pk: (3750, 0), resident.pk: (1250, 0)}
    entry = AuditEntry.objects.get(code="timebank.transaction.posted", target_id=str(tx.pk))
    assert entry.target_label == str(tx)
    assert entry.alliance_id == community.alliance_id
    assert journal_sum() == 0
    assert recompute_balances() == []


def test_insufficient_points_raise_the_domain_error_and_write_nothing(
    books: tuple[Account, Account, Account],
) -> None:
    _issuing, volunteer, resident = books
    Account.objects.filter(pk=volunteer.pk).update(held=1000)
    postings, audits = Posting.objects.count(), AuditEntry.objects.count()
    with pytest.raises(DomainError) as err:
        _post([(volunteer, -4001), (resident, 4001)], "fast-poor")
    assert err.value.code == "timebank.insufficient"
    assert err.value.status == 409
    assert err.value.details == {"account": volunteer.pk, "available": 4000}
    assert not Transaction.objects.filter(idempotency_key="fast-poor").exists()
    assert (Posting.objects.count(), AuditEntry.objects.count()) == (postings, audits)
    # Exactly the available points go through.
    assert _post([(volunteer, -4000), (resident, 4000)], "fast-all").created
    assert _balance(volunteer) == 1000


def test_non_person_accounts_may_go_negative(books: tuple[Account, Account, Account]) -> None:
    issuing, volunteer, _resident = books
    before = _balance(issuing)
    assert _post([(issuing, -(10**6)), (volunteer, 10**6)], "fast-issue").created
    assert _balance(issuing) == before - 10**6


def test_a_replayed_key_returns_the_first_transaction_and_writes_nothing(
    books: tuple[Account, Account, Account],
) -> None:
    _issuing, volunteer, resident = books
    first = _post([(volunteer, -100), (resident, 100)], "fast-replay")
    postings = Posting.objects.count()
    again = _post([(volunteer, -999), (resident, 999)], "fast-replay")
    assert again.transaction_id == first.transaction_id
    assert again.created is False
    assert again.balances == {}
    assert Posting.objects.count() == postings
    assert _balance(resident) == 100


def test_an_unknown_account_is_refused(books: tuple[Account, Account, Account]) -> None:
    _issuing, volunteer, _resident = books
    ghost = Account(pk=10**9, kind=AccountKind.SYSTEM)
    with pytest.raises(DomainError) as err:
        _post([(volunteer, -1), (ghost, 1)], "fast-ghost")
    assert err.value.code == "timebank.account.unknown"
    assert not Transaction.objects.filter(idempotency_key="fast-ghost").exists()


def test_a_second_reversal_is_refused(books: tuple[Account, Account, Account]) -> None:
    issuing, volunteer, resident = books
    _post([(issuing, -1000), (resident, 1000)], "fast-fund")
    original = Transaction.objects.get(
        pk=_post([(volunteer, -300), (resident, 300)], "fast-orig").transaction_id
    )
    assert _post([(volunteer, 300), (resident, -300)], "fast-rev-1", reverses=original).created
    with pytest.raises(DomainError) as err:
        _post([(volunteer, 300), (resident, -300)], "fast-rev-2", reverses=original)
    assert err.value.code == "timebank.reversal.already"
    assert err.value.status == 409


def test_a_failed_posting_inside_an_outer_transaction_leaves_it_usable(
    books: tuple[Account, Account, Account],
) -> None:
    """The function's error aborts only the posting's savepoint when the action is nested."""
    _issuing, volunteer, resident = books
    with transaction.atomic():
        with pytest.raises(DomainError):
            _post([(volunteer, -(10**7)), (resident, 10**7)], "fast-nested")
        assert _balance(volunteer) == 5000
        assert _post([(volunteer, -5), (resident, 5)], "fast-nested-2").created
    assert _balance(resident) == 5


def test_the_audit_entry_is_the_one_record_writes(
    books: tuple[Account, Account, Account], cast: Any
) -> None:
    _issuing, volunteer, resident = books
    community = cast.volunteer.community
    outcome = _post([(volunteer, -7), (resident, 7)], "fast-audit", community=community)
    tx = Transaction.objects.get(pk=outcome.transaction_id)
    fast = AuditEntry.objects.get(code="timebank.transaction.posted", target_id=str(tx.pk))
    with transaction.atomic():
        slow = record(
            "timebank.transaction.posted",
            actor=None,
            target=tx,
            community=community,
            new={
                "kind": "other",
                "memo": "fast",
                "postings": [f"{volunteer.pk}:-7", f"{resident.pk}:7"],
                "reverses": None,
                "reference": "",
            },
        )
    slow.refresh_from_db()
    fields = [
        f.attname for f in AuditEntry._meta.concrete_fields if f.name not in ("id", "created_at")
    ]
    assert {f: getattr(fast, f) for f in fields} == {f: getattr(slow, f) for f in fields}


def _snapshot(tx: Transaction) -> dict[str, Any]:
    """A posting as stored, without what differs between two postings by design."""
    skip = {"id", "idempotency_key", "created_at"}
    row = Transaction.objects.values().get(pk=tx.pk)
    entry = AuditEntry.objects.values().get(
        code="timebank.transaction.posted", target_id=str(tx.pk)
    )
    return {
        "transaction": {k: v for k, v in row.items() if k not in skip},
        "postings": list(tx.postings.order_by("pk").values_list("account_id", "amount")),
        "audit": {
            k: v
            for k, v in entry.items()
            if k not in {"id", "created_at", "target_id", "target_label"}
        },
        "label": entry["target_label"].replace(str(tx.pk), "<pk>"),
    }


def test_the_action_writes_the_same_rows_on_both_paths(
    books: tuple[Account, Account, Account], cast: Any, settings: Any
) -> None:
    """``transfer`` (the paying person, a branch head on their behalf) through the
    function and through the ORM path: the same transaction, postings and audit entry, and the
    same answer (the returned Transaction equals the stored row; the callers' account objects
    carry the new balances)."""
    _issuing, volunteer, resident = books
    seen = []
    for fast in (True, False):
        settings.HUZHU_LEDGER_FASTPATH = fast
        assert fastpath.enabled() is fast
        for actor in (cast.volunteer, cast.branch_head):
            payer = Account.objects.get(pk=volunteer.pk)
            payee = Account.objects.get(pk=resident.pk)
            before = payer.balance
            tx = actions.transfer(
                actor=actor, payer=payer, payee=payee, amount=125, key=f"same-{fast}-{actor.pk}"
            )
            stored = Transaction.objects.get(pk=tx.pk)
            assert {
                f.attname: getattr(tx, f.attname) for f in Transaction._meta.concrete_fields
            } == {f.attname: getattr(stored, f.attname) for f in Transaction._meta.concrete_fields}
            assert tx._state.adding is False
            assert payer.balance == before - 125 == _balance(payer)
            assert payee.balance == _balance(payee)
            seen.append(_snapshot(tx))
    assert seen[:2] == seen[2:]
    assert seen[1]["transaction"]["on_behalf_of_id"] == cast.volunteer.pk


def test_the_transfer_endpoint_posts_in_three_statements(
    books: tuple[Account, Account, Account], cast: Any, client: Any
) -> None:
    """POST /api/v1/timebank/transfers on PostgreSQL: the token, both accounts (one query), the
    posting function — then the commit. Contract unchanged: 201, a replay 200 with the same
    body, not enough points 409."""
    _issuing, _volunteer, resident = books
    key = auth.issue_token(cast.volunteer)

    def pay(amount: int, idem: str) -> Any:
        return client.post(
            "/api/v1/timebank/transfers",
            data=json.dumps({"payee_account": resident.pk, "amount": amount, "memo": "谢谢"}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
        )

    pay(1, "warm-up")  # the token's first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        first = pay(150, "api-1")
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert first.status_code == 201, first.content
    assert len(statements) == 3, statements
    assert statements[-1].startswith(fastpath.STATEMENT_PREFIX)
    assert first.json() == {
        "id": first.json()["id"],
        "amount": 150,
        "payer_balance": 5000 - 1 - 150,
    }
    again = pay(150, "api-1")
    assert (again.status_code, again.json()) == (200, first.json())
    poor = pay(10**6, "api-2")
    assert poor.status_code == 409
    assert poor.json()["error"]["code"] == "timebank.insufficient"


# --- concurrency -----------------------------------------------------------------------------


@pytest.fixture
def shared_books(transactional_db: Any, cast: Any) -> tuple[Account, Account, Account]:
    _need_postgres()
    community = cast.volunteer.community
    for person in (cast.volunteer, cast.resident):
        actions.credit_service(
            actor=None,
            volunteer=person,
            hours=Decimal(50),
            community=community,
            key=f"s{person.pk}",
        )
    issuing = actions.issuing_account(community)
    return (
        Account.objects.get(pk=issuing.pk),
        Account.objects.get(pk=actions.person_account(cast.volunteer).pk),
        Account.objects.get(pk=actions.person_account(cast.resident).pk),
    )


def test_ten_concurrent_replays_write_one_transaction(
    shared_books: tuple[Account, Account, Account],
) -> None:
    _issuing, volunteer, resident = shared_books
    results, errors = in_threads(
        10, lambda i: _post([(volunteer, -100), (resident, 100)], "fast-race")
    )
    assert errors == []
    assert len({r.transaction_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Transaction.objects.filter(idempotency_key="fast-race").count() == 1
    assert _balance(resident) == 5000 + 100
    assert recompute_balances() == []


def test_opposite_transfers_lock_in_key_order_and_never_deadlock(
    shared_books: tuple[Account, Account, Account],
) -> None:
    """Eight clients pay back and forth between the same three accounts, each listing the
    accounts in its own order: the function locks them by primary key, so no deadlock (which
    PostgreSQL would report as an error) and no lost update."""
    issuing, volunteer, resident = shared_books
    orders = [
        [(volunteer, -3), (resident, 2), (issuing, 1)],
        [(issuing, 1), (resident, 2), (volunteer, -3)],
        [(resident, -3), (volunteer, 3)],
        [(volunteer, 3), (resident, -3)],
    ]

    def work(i: int) -> int:
        for j in range(15):
            _post(orders[(i + j) % len(orders)], f"fast-lock-{i}-{j}")
        return 15

    before = _balance(issuing) + _balance(volunteer) + _balance(resident)
    results, errors = in_threads(8, work)
    assert errors == []
    assert sum(results) == 120
    assert _balance(issuing) + _balance(volunteer) + _balance(resident) == before
    assert journal_sum() == 0
    assert recompute_balances() == []


# --- a crash between the function and the commit ---------------------------------------------

CHILD = r"""
import json, sys
import django
django.setup()
from django.db import connection
from huzhu.timebank import actions, fastpath
from huzhu.timebank.models import Account

cfg = json.loads(sys.argv[1])
seen = []

def pause(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if sql.startswith(fastpath.STATEMENT_PREFIX):
        seen.append(sql)
        print("MID", connection.connection.info.backend_pid, flush=True)
        sys.stdin.readline()  # the parent kills us here, or ends our backend first
    return result

payer = Account.objects.get(pk=cfg["payer"])
payee = Account.objects.get(pk=cfg["payee"])
with connection.execute_wrapper(pause):
    actions.transfer(actor=None, payer=payer, payee=payee, amount=cfg["amount"], key=cfg["key"])
print("DONE" if seen else "NOT-FAST", flush=True)
"""


def _child(cfg: dict[str, Any]) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HUZHU_DB_CONN_MAX_AGE": "0",
        # One posting on its own, in the child's own connection (group commit: test_groupcommit).
        "HUZHU_LEDGER_GROUP_COMMIT": "0",
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
    line = proc.stdout.readline()
    if not line.startswith("MID "):
        proc.kill()
        _out, err = proc.communicate(timeout=TIMEOUT)
        pytest.fail(f"the child never called the posting function: {line!r} {err[-2000:]}")
    return proc, int(line.split()[1])


@pytest.mark.parametrize("how", ["kill -9", "pg_terminate_backend"])
def test_a_crash_after_the_function_before_the_commit_leaves_nothing(
    shared_books: tuple[Account, Account, Account], how: str
) -> None:
    _issuing, volunteer, resident = shared_books
    postings, audits = Posting.objects.count(), AuditEntry.objects.count()
    key = f"fast-crash-{how}"
    proc, pid = _child({"payer": volunteer.pk, "payee": resident.pk, "amount": 250, "key": key})
    if how == "kill -9":
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGKILL
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        out, _err = proc.communicate(input="\n", timeout=TIMEOUT)
        assert proc.returncode != 0
        assert "DONE" not in out
    assert not Transaction.objects.filter(idempotency_key=key).exists()
    assert (Posting.objects.count(), AuditEntry.objects.count()) == (postings, audits)
    assert _balance(volunteer) == volunteer.balance
    assert _balance(resident) == resident.balance
    assert recompute_balances() == []
    # The key is free: sent again, the transfer is posted exactly once.
    first = actions.transfer(actor=None, payer=volunteer, payee=resident, amount=250, key=key)
    again = actions.transfer(actor=None, payer=volunteer, payee=resident, amount=250, key=key)
    assert first.pk == again.pk
    assert _balance(resident) == resident.balance


def test_the_child_posts_through_the_function_when_released(
    shared_books: tuple[Account, Account, Account],
) -> None:
    """The control: the same child, released, posts through the function and commits."""
    _issuing, volunteer, resident = shared_books
    proc, _pid = _child(
        {"payer": volunteer.pk, "payee": resident.pk, "amount": 120, "key": "fast-control"}
    )
    out, err = proc.communicate(input="\n", timeout=TIMEOUT)
    assert proc.returncode == 0, err[-2000:]
    assert "DONE" in out
    assert _balance(resident) == resident.balance + 120


# --- the API token's last use ----------------------------------------------------------------


def test_token_last_use_is_written_at_most_once_per_interval(
    db: Any, cast: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    now = {"t": start}
    monkeypatch.setattr(clock, "now", lambda: now["t"])
    key = auth.issue_token(cast.resident)
    token = ApiToken.objects.get(person=cast.resident)
    assert token.last_used_at is None

    def used() -> dt.datetime | None:
        return ApiToken.objects.values_list("last_used_at", flat=True).get(pk=token.pk)

    assert auth.person_for_token(key) == cast.resident
    assert used() == start
    every = dt.timedelta(minutes=auth.LAST_USED_EVERY_MINUTES)
    now["t"] = start + every - dt.timedelta(seconds=1)
    with CaptureQueriesContext(connection) as queries:
        assert auth.person_for_token(key) == cast.resident
    assert len(queries.captured_queries) == 1  # the token read, no write
    assert used() == start
    now["t"] = start + every
    assert auth.person_for_token(key) == cast.resident
    assert used() == start + every


def test_a_revoked_token_or_inactive_person_is_refused(db: Any, cast: Any) -> None:
    key = auth.issue_token(cast.resident)
    assert auth.person_for_token(key) == cast.resident
    assert auth.person_for_token(key + "x") is None
    cast.resident.is_active = False
    cast.resident.save(update_fields=["is_active"])
    assert auth.person_for_token(key) is None
