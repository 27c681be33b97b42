"""On PostgreSQL: a process killed in the middle of a posting leaves all or nothing (issue 4,
acceptance 2).

A child process (``python -c``, Django set up against this test database) transfers points with
the real ``huzhu.timebank.actions.transfer``. An execute wrapper installed in the child only — not
in product code — stops it right after a chosen statement of the posting (the transaction row,
the postings, a balance update, the audit entry): it prints ``MID <backend pid>`` and waits.
The parent then either SIGKILLs the child (kill -9 of the worker) or ends its database backend
with ``pg_terminate_backend`` (the database side of the crash) and lets it run on into the dead
connection. Afterwards: no transaction for the key, no posting, balances untouched and equal to
the journal, and the key is free: sending it again posts the transfer exactly once.
"""

from __future__ import annotations

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
from django.db import connection

from huzhu.audit.models import AuditEntry
from huzhu.timebank import actions, fastpath
from huzhu.timebank.models import Account, AccountKind, Posting, Transaction
from huzhu.timebank.queries import journal_sum, recompute_balances
from huzhu.timebank.tests.threads import database_url

pytestmark = pytest.mark.postgres

ROOT = Path(settings.BASE_DIR)
TIMEOUT = 120

CHILD = r"""
import json, sys
import django
django.setup()
from django.db import connection
from huzhu.timebank import actions
from huzhu.timebank.models import Account

cfg = json.loads(sys.argv[1])

def pause(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if sql.lstrip().startswith(cfg["after"]):
        print("MID", connection.connection.info.backend_pid, flush=True)
        sys.stdin.readline()  # the parent kills us here, or ends our backend first
    return result

payer = Account.objects.get(pk=cfg["payer"])
payee = Account.objects.get(pk=cfg["payee"])
with connection.execute_wrapper(pause):
    actions.transfer(actor=None, payer=payer, payee=payee, amount=cfg["amount"], key=cfg["key"])
print("DONE", flush=True)
"""

# Statements of one posting, in the order post_transaction's ORM path runs them (the child
# runs with HUZHU_LEDGER_FASTPATH=0), and the one statement of the PostgreSQL fast path
# (huzhu.timebank.fastpath: everything written, the commit not yet sent).
POINTS = {
    "transaction": 'INSERT INTO "timebank_transaction"',
    "postings": 'INSERT INTO "timebank_posting"',
    "balance": 'UPDATE "timebank_account"',
    "audit": 'INSERT INTO "audit_auditentry"',
    "function": fastpath.STATEMENT_PREFIX,
}


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "killing a process mid-transaction needs PostgreSQL and a second connection "
            f"(this run uses {connection.vendor}); set DATABASE_URL=postgres://..."
        )


def _child(cfg: dict[str, Any]) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HUZHU_DB_CONN_MAX_AGE": "0",
        "HUZHU_LEDGER_FASTPATH": "1" if cfg["after"] == POINTS["function"] else "0",
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
        pytest.fail(f"the child never reached the pause point: {line!r} {err[-2000:]}")
    return proc, int(line.split()[1])


@pytest.fixture
def accounts(transactional_db: Any, cast: Any) -> tuple[Account, Account]:
    _need_postgres()
    actions.credit_service(
        actor=None,
        volunteer=cast.volunteer,
        hours=Decimal(10),
        community=cast.volunteer.community,
        key="crash-seed",
    )
    payer = actions.person_account(cast.volunteer)
    payee = Account.objects.get_or_create(kind=AccountKind.FUND, name="互助基金")[0]
    return Account.objects.get(pk=payer.pk), payee


def _assert_nothing_written(payer: Account, payee: Account, key: str, postings: int) -> None:
    assert not Transaction.objects.filter(idempotency_key=key).exists()
    assert Posting.objects.count() == postings
    assert Account.objects.get(pk=payer.pk).balance == payer.balance
    assert Account.objects.get(pk=payee.pk).balance == payee.balance
    assert journal_sum() == 0
    assert recompute_balances() == []


def _assert_key_free(payer: Account, payee: Account, key: str, amount: int) -> None:
    """The key was not used by the dead transfer: sending it again posts it, exactly once."""
    before_payer, before_payee = payer.balance, payee.balance
    first = actions.transfer(actor=None, payer=payer, payee=payee, amount=amount, key=key)
    again = actions.transfer(actor=None, payer=payer, payee=payee, amount=amount, key=key)
    assert first.pk == again.pk
    assert sorted(first.postings.values_list("amount", flat=True)) == [-amount, amount]
    assert Account.objects.get(pk=payer.pk).balance == before_payer - amount
    assert Account.objects.get(pk=payee.pk).balance == before_payee + amount
    assert journal_sum() == 0
    assert recompute_balances() == []


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_9_of_the_worker_mid_posting_leaves_nothing(
    accounts: tuple[Account, Account], point: str
) -> None:
    payer, payee = accounts
    postings, audits = Posting.objects.count(), AuditEntry.objects.count()
    key = f"crash-kill-{point}"
    proc, _pid = _child(
        {"payer": payer.pk, "payee": payee.pk, "amount": 250, "key": key, "after": POINTS[point]}
    )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    # The dead client's backend rolls back when its socket closes; the parent's reads wait
    # for nothing (uncommitted rows are invisible) and its writes wait for the row locks.
    _assert_nothing_written(payer, payee, key, postings)
    assert AuditEntry.objects.count() == audits
    _assert_key_free(payer, payee, key, 250)


@pytest.mark.parametrize("point", ["postings", "audit", "function"])
def test_database_backend_terminated_mid_posting_leaves_nothing(
    accounts: tuple[Account, Account], point: str
) -> None:
    payer, payee = accounts
    postings = Posting.objects.count()
    key = f"crash-backend-{point}"
    proc, pid = _child(
        {"payer": payer.pk, "payee": payee.pk, "amount": 300, "key": key, "after": POINTS[point]}
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)
    # Release the child: it runs on into its dead connection.
    out, err = proc.communicate(input="\n", timeout=TIMEOUT)
    assert proc.returncode != 0
    assert "DONE" not in out
    assert "terminating connection" in err or "connection" in err.lower()
    _assert_nothing_written(payer, payee, key, postings)
    _assert_key_free(payer, payee, key, 300)


@pytest.mark.parametrize("point", ["audit", "function"])
def test_a_transfer_not_interrupted_is_all_there(
    accounts: tuple[Account, Account], point: str
) -> None:
    """The control: the same child, released instead of killed, posts the transfer whole."""
    payer, payee = accounts
    key = f"crash-control-{point}"
    proc, _pid = _child(
        {"payer": payer.pk, "payee": payee.pk, "amount": 120, "key": key, "after": POINTS[point]}
    )
    out, err = proc.communicate(input="\n", timeout=TIMEOUT)
    assert proc.returncode == 0, err[-2000:]
    assert "DONE" in out
    tx = Transaction.objects.get(idempotency_key=key)
    assert sorted(tx.postings.values_list("amount", flat=True)) == [-120, 120]
    assert Account.objects.get(pk=payer.pk).balance == payer.balance - 120
    assert recompute_balances() == []
