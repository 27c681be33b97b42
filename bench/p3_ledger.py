"""P3: the ledger stays correct under 16 clients, a hot account, replayed keys and kill -9.

Two figures (bench/README.md explains how to read them):

P3   16 client threads, each with its own database connection, start together (a barrier) and
     run the same seeded plan of transfers: half of them from one **hot account** that holds
     only ``HOT_START`` hundredths (far less than they try to spend), the rest between 200
     other accounts; then ``REPLAY_KEYS`` idempotency keys are each sent by 10 clients at the
     same moment. candidate: ``huzhu.timebank.actions.transfer``. baseline: the naive get/save
     ledger (bench/naive_ledger.py) with the same accounts, balances and plan. After every
     round the checks of bench/ledger_checks.py count violations.
P3k  a worker process doing transfers is stopped in the middle of one, after its postings were
     inserted: once with SIGKILL of the worker (kill -9), once by terminating its database
     backend with ``pg_terminate_backend`` (the database side of the crash; the benchmark
     does not restart the shared PostgreSQL server). The killed transfer's key is then sent
     again, and the same checks run.

The candidate must show 0 violations; the naive ledger must show violations in the checks the
issue names (overdrawn, lost updates, one transaction per key, all-or-nothing), or the benchmark
exits with status 2: it would have failed to demonstrate what the checks catch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections

from bench import ledger_checks as checks
from bench import ledger_data, naive_ledger
from bench.harness import ROOT, BenchError, Context, Result, alternate, bench_url, execute, say

FULL_PEOPLE = 10_000
CLIENTS = 16
OPS = 60  # transfers per client
REPLAY_KEYS = 5
REPLAYERS = 10
HOT_START = 2_000  # hundredths in the hot account at the start of a round
WORKER_TIMEOUT = 60.0


@dataclass
class Op:
    payer: int  # index into the accounts under test (0: the hot account)
    payee: int
    amount: int
    key: str


@dataclass
class Outcome:
    violations: dict[str, int]
    done: int = 0
    refused: int = 0
    replay_ids: int = 0  # distinct transaction ids the replayers got back, over all keys
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = checks.describe(self.violations)
        if self.kills:
            return f"{text}; {'; '.join(self.kills)}"
        return (
            f"{text}; {self.done:,} transfers done, {self.refused:,} refused, "
            f"in {self.seconds:.2f} s; replays → {self.replay_ids} transaction ids for "
            f"{REPLAY_KEYS} keys"
        )


class Ledger:
    """One implementation under test: how to transfer, where its tables are."""

    name = ""
    tables: dict[str, str] = {}

    def __init__(self, data: ledger_data.LedgerCommunity) -> None:
        self.data = data
        self.accounts: list[int] = []

    def prepare(self) -> None:
        raise NotImplementedError

    def transfer_fn(self) -> Callable[[int, int, int, str], int | None]:
        """A function for one client thread: (payer, payee, amount, key) → transaction id, or
        None when refused for lack of points."""
        raise NotImplementedError


class Candidate(Ledger):
    name = "candidate"
    tables = checks.REAL

    def prepare(self) -> None:
        """Put exactly HOT_START in the hot account, by a proper transaction."""
        from huzhu.timebank import actions
        from huzhu.timebank.models import Account, TransactionKind

        self.accounts = self.data.p3_accounts
        hot = Account.objects.get(pk=self.data.hot_account)
        issuing = Account.objects.get(pk=self.data.issuing_id)
        delta = HOT_START - hot.balance
        if delta:
            actions.post_transaction(
                actor=None,
                kind=TransactionKind.OTHER,
                postings=[(issuing, -delta), (hot, delta)],
                idempotency_key=f"p3-topup-{time.time_ns()}",
                memo="P3 热点账户重置",
            )

    def transfer_fn(self) -> Callable[[int, int, int, str], int | None]:
        from huzhu.core.errors import DomainError
        from huzhu.timebank import actions
        from huzhu.timebank.models import Account

        objects = {
            a.pk: a
            for a in Account.objects.select_related("community").filter(pk__in=self.accounts)
        }

        def fn(payer: int, payee: int, amount: int, key: str) -> int | None:
            try:
                tx = actions.transfer(
                    actor=None, payer=objects[payer], payee=objects[payee], amount=amount, key=key
                )
            except DomainError as exc:
                if exc.code == "timebank.insufficient":
                    return None
                raise
            return int(tx.pk)

        return fn


class Naive(Ledger):
    name = "baseline"
    tables = naive_ledger.TABLES

    def prepare(self) -> None:
        from huzhu.timebank.models import Account

        balances = dict(
            Account.objects.filter(pk__in=self.data.p3_accounts).values_list("pk", "balance")
        )
        start = [HOT_START] + [balances[a] for a in self.data.p3_accounts[1:]]
        _issuing, self.accounts = naive_ledger.reset(start)

    def transfer_fn(self) -> Callable[[int, int, int, str], int | None]:
        def fn(payer: int, payee: int, amount: int, key: str) -> int | None:
            try:
                return naive_ledger.transfer(payer_id=payer, payee_id=payee, amount=amount, key=key)
            except naive_ledger.Insufficient:
                return None

        return fn


class P3:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.data = ledger_data.ledger_community(ctx.scaled(FULL_PEOPLE, minimum=1_000))
        self.run_tag = f"p3-{time.time_ns()}"
        naive_ledger.ensure_tables()
        # The real ledger must be sound before the benchmark starts, or P3 measures nothing.
        before = checks.violations(
            checks.REAL,
            account_ids=self.data.p3_accounts,
            expected_sum=checks.balance_sum(checks.REAL, self.data.p3_accounts),
        )
        if any(before.values()):
            raise BenchError(
                f"the benchmark ledger is not sound before P3 ({checks.describe(before)}); "
                f"run again with --reseed"
            )

    # ------------------------------------------------------------------ the plan

    def plan(self, round_no: int) -> list[list[Op]]:
        n = len(self.data.p3_accounts)
        plans = []
        for c in range(CLIENTS):
            rng = random.Random(self.ctx.seed * 1000 + round_no * 100 + c)  # noqa: S311
            ops = []
            for j in range(OPS):
                if j % 2 == 0:
                    payer, payee, amount = 0, rng.randrange(1, n), rng.randint(50, 150)
                else:
                    payer, payee = rng.sample(range(1, n), 2)
                    amount = rng.randint(1, 200)
                ops.append(Op(payer, payee, amount, f"{c}-{j}"))
            plans.append(ops)
        return plans

    # ------------------------------------------------------------------ concurrency

    def concurrency(self, ledger: Ledger, round_no: int) -> Outcome:
        ledger.prepare()
        accounts = ledger.accounts
        tag = f"{self.run_tag}-{ledger.name}-{round_no}"
        before = checks.balance_sum(ledger.tables, accounts)
        plans = self.plan(round_no)
        barrier = threading.Barrier(CLIENTS)
        lock = threading.Lock()
        counts: Counter[str] = Counter()
        errors: list[str] = []
        replay_ids: dict[int, set[int]] = {k: set() for k in range(REPLAY_KEYS)}
        rng = random.Random(self.ctx.seed + round_no)  # noqa: S311
        replays = [
            (rng.randrange(1, len(accounts)), rng.randrange(1, len(accounts)), rng.randint(1, 99))
            for _k in range(REPLAY_KEYS)
        ]

        def client(c: int) -> None:
            try:
                fn = ledger.transfer_fn()
                barrier.wait()
                for op in plans[c]:
                    tx = fn(accounts[op.payer], accounts[op.payee], op.amount, f"{tag}-{op.key}")
                    with lock:
                        counts["done" if tx is not None else "refused"] += 1
                for k, (payer, payee, amount) in enumerate(replays):
                    barrier.wait()
                    if c < REPLAYERS and payer != payee:
                        tx = fn(accounts[payer], accounts[payee], amount, f"{tag}-replay-{k}")
                        if tx is not None:
                            with lock:
                                replay_ids[k].add(tx)
            except Exception as exc:  # reported below: the round could not run
                with lock:
                    errors.append(f"client {c}: {type(exc).__name__}: {exc}")
                barrier.abort()
            finally:
                connections.close_all()

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        seconds = time.perf_counter() - start
        if errors:
            raise BenchError(f"P3 {ledger.name}: a client failed: {errors[0]}")
        v = checks.violations(ledger.tables, account_ids=accounts, expected_sum=before)
        return Outcome(
            violations=v,
            done=counts["done"],
            refused=counts["refused"],
            replay_ids=sum(len(ids) for ids in replay_ids.values()),
            seconds=seconds,
        )

    # ------------------------------------------------------------------ kill -9

    def _worker(self, ledger: Ledger, tag: str, seed: int) -> tuple[subprocess.Popen[str], str]:
        cfg = {
            "impl": "candidate" if isinstance(ledger, Candidate) else "naive",
            "accounts": ledger.accounts[1:],  # not the hot account: these transfers succeed
            "tag": tag,
            "seed": seed,
            "pause_after": 3 + seed % 5,
        }
        proc = subprocess.Popen(  # noqa: S603 - our own module, arguments built here
            [sys.executable, "-m", "bench.ledger_worker", "kill", json.dumps(cfg)],
            cwd=ROOT,
            env={**os.environ, "BENCH_WORKER_URL": bench_url()},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + WORKER_TIMEOUT
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("MID "):
                return proc, line.strip()
        proc.kill()
        proc.wait()
        raise BenchError(f"P3k: the {ledger.name} worker never reached the middle of a posting")

    def kills(self, ledger: Ledger, round_no: int) -> Outcome:
        ledger.prepare()
        accounts = ledger.accounts
        before = checks.balance_sum(ledger.tables, accounts)
        tag = f"{self.run_tag}-k-{ledger.name}-{round_no}"
        notes: list[str] = []
        killed: list[str] = []
        for n, how in enumerate(("SIGKILL worker", "pg_terminate_backend")):
            proc, mid = self._worker(ledger, f"{tag}-{n}", self.ctx.seed + round_no * 10 + n)
            _mid, pid, key = mid.split()
            if how == "SIGKILL worker":
                proc.send_signal(signal.SIGKILL)
            else:
                row = execute("SELECT pg_terminate_backend(%s)", [int(pid)])
                if not row or not row[0]:
                    raise BenchError(f"P3k: could not terminate backend {pid}")
                assert proc.stdin is not None
                proc.stdin.close()  # wakes the worker: its next statement meets the dead backend
            try:
                code = proc.wait(timeout=WORKER_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            assert proc.stderr is not None
            last = (proc.stderr.read().strip().splitlines() or [""])[-1]
            killed.append(key)
            notes.append(f"{how} (exit {code}{': ' + last[:80] if last else ''})")
        # Send the killed transfers' keys again: the key must be free (or fully used).
        fn = ledger.transfer_fn()
        rng = random.Random(round_no)  # noqa: S311
        for key in killed:
            payer, payee = rng.sample(accounts[1:], 2)
            fn(payer, payee, 1, key)
        v = checks.violations(ledger.tables, account_ids=accounts, expected_sum=before)
        return Outcome(violations=v, kills=notes)

    # ------------------------------------------------------------------ run

    def run(self) -> list[Result]:
        cand_ledger, naive = Candidate(self.data), Naive(self.data)
        say(
            f"  {CLIENTS} clients × {OPS} transfers (half from the hot account, "
            f"{HOT_START} hundredths), {REPLAY_KEYS} keys × {REPLAYERS} concurrent replays"
        )
        cand, base = alternate(
            lambda i: self.concurrency(cand_ledger, i),
            lambda i: self.concurrency(naive, i),
            self.ctx.rounds,
            label="P3",
        )
        kcand, kbase = alternate(
            lambda i: self.kills(cand_ledger, i),
            lambda i: self.kills(naive, i),
            self.ctx.rounds,
            label="P3k",
        )

        def total(outs: list[Outcome]) -> dict[str, int]:
            out: Counter[str] = Counter()
            for o in outs:
                out.update(o.violations)
            return {k: out[k] for k in checks.CHECKS}

        ct, bt, kct, kbt = total(cand), total(base), total(kcand), total(kbase)
        missing = [k for k in ("overdrawn", "cached≠journal", "dup keys") if not bt[k]]
        if missing:
            raise BenchError(
                f"P3: the naive ledger passed the {', '.join(missing)} check(s) in every round: "
                f"the benchmark did not demonstrate what the checks catch ({checks.describe(bt)})"
            )
        if not (kbt["unbalanced"] or kbt["cached≠journal"]):
            raise BenchError(
                "P3k: the naive ledger survived every kill intact: the benchmark did not "
                "demonstrate the all-or-nothing check"
            )
        rounds = self.ctx.rounds
        transfers = sum(o.done + o.refused for o in cand)
        results = [
            Result(
                id="P3",
                workload=f"ledger, {CLIENTS} clients, hot account, replayed keys",
                candidate=f"{checks.describe(ct)} in {rounds} rounds",
                baseline=f"naive get/save: {checks.describe(bt)}",
                ratio=None,
                target="0 violations; naive > 0",
                meets=not any(ct.values()),
                notes=[
                    f"{rounds} rounds × {CLIENTS} client threads (own connection each) × "
                    f"{OPS} transfers ({transfers:,} candidate attempts), half from a hot "
                    f"account holding {HOT_START} hundredths; then {REPLAY_KEYS} keys each "
                    f"sent by {REPLAYERS} clients at once. Candidate: "
                    f"huzhu.timebank.actions.transfer; baseline: bench/naive_ledger.py "
                    f"(get, check in Python, create, balance -= x; save(); exists() then "
                    f"create) on its own tables with the same balances and plan.",
                    "checks (summed over rounds): journal ≠ 0, unbalanced transactions, "
                    "cached balance ≠ sum of postings, overdrawn person accounts (cached or "
                    "journal < 0), transactions beyond one per key, balances not conserved.",
                    "candidate per round: "
                    + " | ".join(
                        f"{o.done} done, {o.refused} refused, {o.replay_ids} ids/{REPLAY_KEYS} keys"
                        for o in cand
                    ),
                    "naive per round: " + " | ".join(checks.describe(o.violations) for o in base),
                ],
                data={
                    "candidate": [o.__dict__ for o in cand],
                    "baseline": [o.__dict__ for o in base],
                },
            ),
            Result(
                id="P3k",
                workload="ledger, kill -9 worker / terminate DB backend mid-posting",
                candidate=f"{checks.describe(kct)} after {2 * rounds} kills",
                baseline=f"naive get/save: {checks.describe(kbt)}",
                ratio=None,
                target="0 violations; naive > 0",
                meets=not any(kct.values()),
                notes=[
                    "per round: a worker process transfers between P3's accounts; at its "
                    "3rd–7th transfer, right after the postings' INSERT (candidate: inside "
                    "the open database transaction; naive: autocommitted), it is SIGKILLed; "
                    "a second worker's database backend is ended with pg_terminate_backend "
                    "at the same point (PostgreSQL itself is shared and not restarted). "
                    "Then the killed keys are sent again and the checks run.",
                    "naive per round: " + " | ".join(checks.describe(o.violations) for o in kbase),
                ],
                data={
                    "candidate": [o.__dict__ for o in kcand],
                    "baseline": [o.__dict__ for o in kbase],
                },
            ),
        ]
        return results


def run(ctx: Context) -> list[Result]:
    return P3(ctx).run()
