"""P4: ledger throughput, through the action layer and over HTTP, against baselines in the same run.

Two figures (bench/README.md explains how to read them):

P4   candidate: ``huzhu.timebank.actions.transfer`` (actor: the paying person) between random
     person accounts of the ledger dataset: ``PROCESSES`` worker processes (one per core), each
     with ``THREADS`` callers (the requests a server process serves at once) in a closed loop
     for ``SECONDS``; transfers per second over all of them. Callers outside a transaction of
     their own, so postings go through the process's group commit (``HUZHU_LEDGER_GROUP_COMMIT``).
     baseline: ``pgbench`` TPC-B (its built-in script: 3 updates, 1 select, 1 insert per
     transaction) with as many clients as the candidate has callers
     (``-c PROCESSES×THREADS -j PROCESSES -T SECONDS -n``) on the same server, in a database of
     its own (``<bench database>_pgbench``, ``pgbench -i -s 10`` once).
P4h  candidate: ``POST /api/v1/timebank/transfers`` (the real API: bearer token, Idempotency-Key)
     served by granian (WSGI, ``config.wsgi``, ``HTTP_WORKERS`` processes) with the project's
     settings plus the bench URLconf. baseline: the idiomatic ORM endpoint of
     bench/urls_bench.py, same contract, same server process, same run. Load: bench/loadgen.py in
     its own process, ``HTTP_CLIENTS`` keep-alive connections, each with its own payer (token).

Every round checks its work: the transfers it counted are in the journal (by their keys), and
for HTTP every answer was 201.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import ledger_data
from bench.harness import (
    ROOT,
    BenchError,
    Context,
    Result,
    alternate,
    bench_url,
    check_url,
    ensure_database,
    execute,
    fmt_int,
    fmt_seconds,
    median,
    say,
    start_granian,
)

FULL_PEOPLE = 10_000
PROCESSES = max(2, os.cpu_count() or 2)
THREADS = 8  # concurrent callers per process, as a server process serves requests at once
CLIENTS = PROCESSES * THREADS
SECONDS = 10.0
PGBENCH_SCALE = 10
HTTP_WORKERS = max(2, os.cpu_count() or 2)
HTTP_THREADS = 2  # granian blocking threads per worker
HTTP_CLIENTS = 8
HTTP_WARMUP = 1.0
# Each HTTP payer's balance before the HTTP rounds (hundredths): more than 3 rounds × 2 sides
# × 11 s of one connection can spend at 1,000 answers/s × 100 hundredths.
HTTP_PAYER_FUNDS = 10_000_000
TARGET_SQL = 1.4
TARGET_HTTP = 2.2
API_PATH = "/api/v1/timebank/transfers"
ORM_PATH = "/bench/orm/transfers"
TOKEN_NAME = "bench-p4"  # noqa: S105 - the tokens' label, not a secret
LOG_PATH = ROOT / "test-output" / "bench" / "p4-granian.log"


def _pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise BenchError(
        "pgbench not found (Debian: postgresql-client or postgresql-contrib); P4 needs it "
        "for its baseline"
    )


def _count_keys(pattern: str) -> int:
    row = execute(
        "SELECT count(*) FROM timebank_transaction WHERE idempotency_key LIKE %s", [pattern]
    )
    return int(row[0])


@dataclass
class Rate:
    count: int
    seconds: float
    p50: float = 0.0
    p99: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        lat = f", p50 {fmt_seconds(self.p50)}, p99 {fmt_seconds(self.p99)}" if self.p99 else ""
        return f"{fmt_int(self.count)} in {self.seconds:.1f} s = {fmt_int(self.rate)}/s{lat}"


class P4:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.data = ledger_data.ledger_community(ctx.scaled(FULL_PEOPLE, minimum=1_000))
        self.seconds = max(3.0, SECONDS * ctx.scale)
        self.tag = f"p4-{time.time_ns()}"
        self.pgbench = _pgbench()
        self.pg_url = self._pgbench_url()

    # ------------------------------------------------------------------ SQL: action layer

    def _pgbench_url(self) -> str:
        parts = urlsplit(bench_url())
        name = parts.path.lstrip("/") + "_pgbench"
        url = urlunsplit(parts._replace(path=f"/{name}"))
        check_url(url)
        return url

    def _pg_args(self) -> list[str]:
        parts = urlsplit(self.pg_url)
        return [
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
        ]

    def _pg_env(self) -> dict[str, str]:
        env = dict(os.environ)
        password = urlsplit(self.pg_url).password
        if password:
            env["PGPASSWORD"] = password
        return env

    def prepare_pgbench(self) -> None:
        import psycopg

        ensure_database(self.pg_url)
        name = urlsplit(self.pg_url).path.lstrip("/")
        branches = None
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass('pgbench_branches')").fetchone()
            if exists and exists[0]:
                row = conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()
                branches = row[0] if row else None
        if branches == PGBENCH_SCALE:
            say(f"  reusing pgbench's tables in {name} (scale {PGBENCH_SCALE})")
            return
        say(f"  pgbench -i -s {PGBENCH_SCALE} {name} …")
        start = time.perf_counter()
        subprocess.run(  # noqa: S603 - pgbench with arguments built here
            [self.pgbench, "-i", "-q", "-s", str(PGBENCH_SCALE), *self._pg_args(), name],
            check=True,
            capture_output=True,
            env=self._pg_env(),
        )
        say(f"  pgbench tables ready in {time.perf_counter() - start:.1f} s")

    def run_pgbench(self, round_no: int) -> Rate:
        name = urlsplit(self.pg_url).path.lstrip("/")
        proc = subprocess.run(  # noqa: S603
            [
                self.pgbench,
                "-n",
                "-c",
                str(CLIENTS),
                "-j",
                str(PROCESSES),
                "-T",
                str(int(self.seconds)),
                *self._pg_args(),
                name,
            ],
            capture_output=True,
            text=True,
            env=self._pg_env(),
        )
        if proc.returncode != 0:
            raise BenchError(f"pgbench failed: {proc.stderr.strip()[-300:]}")
        tx = re.search(r"number of transactions actually processed: (\d+)", proc.stdout)
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
        if not tx or not tps:
            raise BenchError(f"could not read pgbench's output: {proc.stdout[-300:]}")
        if failed and int(failed.group(1)):
            raise BenchError(f"pgbench: {failed.group(1)} failed transactions")
        count = int(tx.group(1))
        # pgbench's own tps excludes connecting; report it as a count over the matching time.
        return Rate(count=count, seconds=count / float(tps.group(1)))

    def run_actions(self, round_no: int) -> Rate:
        accounts = self.data.p4_accounts
        procs = []
        for w in range(PROCESSES):
            cfg = {
                "threads": THREADS,
                "accounts": accounts,
                "seconds": self.seconds,
                "tag": f"{self.tag}-s{round_no}-w{w}",
                "seed": self.ctx.seed + round_no * 100 + w,
            }
            procs.append(
                subprocess.Popen(  # noqa: S603 - our own module
                    [sys.executable, "-m", "bench.ledger_worker", "throughput", json.dumps(cfg)],
                    cwd=ROOT,
                    env={**os.environ, "BENCH_WORKER_URL": bench_url()},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "READY":
                raise BenchError("P4: an action-layer worker failed to start")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = []
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            p.wait(timeout=60)
            if not line:
                raise BenchError("P4: an action-layer worker died")
            outs.append(json.loads(line))
        done = sum(o["done"] for o in outs)
        stored = _count_keys(f"{self.tag}-s{round_no}-w%")
        if stored != done:
            raise BenchError(f"P4: the workers counted {done} transfers, the journal has {stored}")
        refused = sum(o["refused"] for o in outs)
        batches = sum(o["batches"] for o in outs)
        batched = sum(o["batched"] for o in outs)
        return Rate(
            count=done,
            seconds=max(o["seconds"] for o in outs),
            extra={"refused": refused, "batches": batches, "batched": batched},
        )

    @staticmethod
    def _batch_note(rounds: list[Rate]) -> str:
        batches = sum(r.extra.get("batches", 0) for r in rounds)
        batched = sum(r.extra.get("batched", 0) for r in rounds)
        if not batches:
            return "off (each transfer committed on its own)"
        return f"{batched:,} transfers in {batches:,} commits, {batched / batches:.1f} per commit"

    def profile(self, n: int = 100) -> str:
        """Where a transfer's time goes (not a figure: one process, after the rounds)."""
        import random

        from django.db import connection

        from huzhu.accounts.models import Person
        from huzhu.timebank import actions
        from huzhu.timebank.models import Account

        accounts = list(
            Account.objects.select_related("community").filter(pk__in=self.data.p4_accounts[:200])
        )
        people = {p.pk: p for p in Person.objects.filter(pk__in=[a.person_id for a in accounts])}
        rng = random.Random(self.ctx.seed)  # noqa: S311 - workload, not security
        spent = {"statements": 0, "seconds": 0.0}

        def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent["statements"] += 1
                spent["seconds"] += time.perf_counter() - start

        from django.conf import settings

        # One caller alone: its posting committed on its own, in this thread's connection
        # (group commit would hand it to the writer thread and add one hand-over).
        group_commit = settings.HUZHU_LEDGER_GROUP_COMMIT
        settings.HUZHU_LEDGER_GROUP_COMMIT = False
        start = time.perf_counter()
        with connection.execute_wrapper(timer):
            for i in range(n):
                payer, payee = rng.sample(accounts, 2)
                actions.transfer(
                    actor=people[payer.person_id],
                    payer=payer,
                    payee=payee,
                    amount=1,
                    key=f"{self.tag}-profile-{i}",
                )
        settings.HUZHU_LEDGER_GROUP_COMMIT = group_commit
        total = (time.perf_counter() - start) / n
        stmt = spent["seconds"] / n
        return (
            f"one transfer, one process, no concurrency: {fmt_seconds(total)} = "
            f"{spent['statements'] / n:.0f} statements {fmt_seconds(stmt)} + commit and Python "
            f"{fmt_seconds(total - stmt)} (pgbench's TPC-B: 5 statements + commit, in C)"
        )

    # ------------------------------------------------------------------ HTTP

    def _fund_payers(self, people: list[int]) -> int:
        """Top the HTTP payers' accounts up to ``HTTP_PAYER_FUNDS`` with a proper balanced
        transaction each (from the community's issuing account, through
        ``huzhu.timebank.actions.post_transaction``): the same 8 people pay in every round of
        every run, and an account that ran dry would answer 409 on either side."""
        from huzhu.timebank import actions
        from huzhu.timebank.models import Account, TransactionKind

        issuing = Account.objects.get(pk=self.data.issuing_id)
        topped = 0
        for account in Account.objects.filter(kind="person", person_id__in=people).order_by("pk"):
            missing = HTTP_PAYER_FUNDS - account.balance
            if missing <= 0:
                continue
            actions.post_transaction(
                actor=None,
                kind=TransactionKind.OTHER,
                postings=[(issuing, -missing), (account, missing)],
                idempotency_key=f"{self.tag}-fund-{account.pk}",
                memo="基准测试补充积分",
                community=account.community,
            )
            topped += 1
        return topped

    def _tokens(self) -> list[dict[str, Any]]:
        from huzhu.accounts.auth import issue_token
        from huzhu.accounts.models import ApiToken, Person

        people = self.data.p4_people[:HTTP_CLIENTS]
        topped = self._fund_payers(people)
        if topped:
            say(f"  topped up {topped} HTTP payers to {HTTP_PAYER_FUNDS:,} hundredths")
        ApiToken.objects.filter(person_id__in=people, name=TOKEN_NAME).delete()
        return [
            {"token": issue_token(person, name=TOKEN_NAME)}
            for person in Person.objects.filter(pk__in=people).order_by("pk")
        ]

    def start_server(self) -> tuple[subprocess.Popen[bytes], int]:
        return start_granian("P4", HTTP_WORKERS, HTTP_THREADS, LOG_PATH)

    def run_http(self, port: int, path: str, label: str, round_no: int) -> Rate:
        tag = f"{self.tag}-{label}{round_no}"
        cfg = {
            "port": port,
            "path": path,
            "clients": self.clients,
            "payees": self.data.p4_accounts[HTTP_CLIENTS:],
            "seconds": self.seconds,
            "warmup": HTTP_WARMUP,
            "tag": tag,
            "seed": self.ctx.seed + round_no,
        }
        proc = subprocess.run(
            [sys.executable, "-m", "bench.loadgen"],
            input=json.dumps(cfg),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=self.seconds + 120,
        )
        if proc.returncode != 0:
            raise BenchError(f"P4: the load generator failed: {proc.stderr.strip()[-500:]}")
        out = json.loads(proc.stdout)
        bad = {k: v for k, v in out["status"].items() if k != "201"}
        if bad:
            raise BenchError(
                f"P4 {label}: answers other than 201: {bad}; e.g. {out['samples'][:2]}"
            )
        stored = _count_keys(f"%{tag}-%")
        if stored != out["ok_all"]:
            raise BenchError(
                f"P4 {label}: {out['ok_all']} answers 201, {stored} transactions in the journal"
            )
        return Rate(count=out["ok"], seconds=out["seconds"], p50=out["p50"], p99=out["p99"])

    def endpoint_ready(self, port: int) -> bool:
        """The real endpoint exists (it is built in parallel with this benchmark)."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{API_PATH}", data=b"{}", method="POST"
        )
        try:
            urllib.request.urlopen(req, timeout=5)  # noqa: S310
        except urllib.error.HTTPError as exc:
            return exc.code != 404
        except OSError:
            return False
        return True

    # ------------------------------------------------------------------ run

    def run(self) -> list[Result]:
        self.prepare_pgbench()
        say(f"  SQL: {CLIENTS} clients × {self.seconds:.0f} s each round")
        cand, base = alternate(self.run_actions, self.run_pgbench, self.ctx.rounds, label="P4")
        c, b = median([r.rate for r in cand]), median([r.rate for r in base])
        breakdown = self.profile()
        say(f"  {breakdown}")
        results = [
            Result(
                id="P4",
                workload=f"ledger transfers/s, action layer, {CLIENTS} clients",
                candidate=f"{fmt_int(c)} transfers/s",
                baseline=f"pgbench TPC-B {fmt_int(b)} tps",
                ratio=c / b if b else None,
                target=f"≥ {TARGET_SQL}× pgbench",
                meets=b > 0 and c / b >= TARGET_SQL,
                notes=[
                    f"candidate: huzhu.timebank.actions.transfer (actor: the paying person; "
                    f"locks, balance check, transaction + 2 postings, 2 balance updates, audit "
                    f"entry, commit) between random accounts of {len(self.data.p4_accounts):,}, "
                    f"{PROCESSES} processes × {THREADS} callers in a closed loop; every counted "
                    f"transfer found in the journal by its key. Group commit: "
                    f"{self._batch_note(cand)}.",
                    f"baseline: pgbench's built-in TPC-B script, -c {CLIENTS} -j {PROCESSES} "
                    f"-T {self.seconds:.0f} -n, scale {PGBENCH_SCALE}, same server, its own "
                    f"database; tps without connection time.",
                    "rounds (candidate): " + " | ".join(str(r) for r in cand),
                    "rounds (pgbench): " + " | ".join(str(r) for r in base),
                    breakdown,
                ],
                data={
                    "candidate": [r.__dict__ for r in cand],
                    "baseline": [r.__dict__ for r in base],
                },
            )
        ]
        results.append(self.run_http_figure())
        return results

    def run_http_figure(self) -> Result:
        self.clients = self._tokens()
        proc, port = self.start_server()
        try:
            if not self.endpoint_ready(port):
                return Result(
                    id="P4h",
                    workload="ledger transfers over HTTP",
                    candidate=f"— ({API_PATH} does not exist yet)",
                    baseline="—",
                    ratio=None,
                    target=f"≥ {TARGET_HTTP}× ORM endpoint",
                    meets=None,
                    notes=[f"{API_PATH} answered 404: the real endpoint is not built yet."],
                )
            say(
                f"  HTTP: granian {HTTP_WORKERS} workers × {HTTP_THREADS} threads, "
                f"{HTTP_CLIENTS} connections × {self.seconds:.0f} s (+{HTTP_WARMUP:.0f} s warm-up)"
            )
            cand, base = alternate(
                lambda i: self.run_http(port, API_PATH, "api", i),
                lambda i: self.run_http(port, ORM_PATH, "orm", i),
                self.ctx.rounds,
                label="P4h",
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        c, b = median([r.rate for r in cand]), median([r.rate for r in base])
        cp99, bp99 = median([r.p99 for r in cand]), median([r.p99 for r in base])
        return Result(
            id="P4h",
            workload=f"ledger transfers over HTTP, {HTTP_CLIENTS} connections",
            candidate=f"{fmt_int(c)} req/s · p99 {fmt_seconds(cp99)}",
            baseline=f"ORM endpoint {fmt_int(b)} req/s · p99 {fmt_seconds(bp99)}",
            ratio=c / b if b else None,
            target=f"≥ {TARGET_HTTP}× ORM endpoint",
            meets=b > 0 and c / b >= TARGET_HTTP,
            notes=[
                f"candidate: POST {API_PATH} (bearer token, Idempotency-Key, the action "
                f"layer); baseline: POST {ORM_PATH} (bench/urls_bench.py: the same contract "
                f"written as an idiomatic Django view, atomic + select_for_update, save(), no "
                f"audit entry). One granian server (WSGI, {HTTP_WORKERS} workers × "
                f"{HTTP_THREADS} threads, DEBUG off, persistent connections) serves both; "
                f"bench/loadgen.py ({HTTP_CLIENTS} keep-alive connections, one payer each, "
                f"closed loop) in its own process on the same 2-core box, so the generator "
                f"takes CPU from the server for both sides alike.",
                "every answer was 201 and every 201 is in the journal.",
                "rounds (API): " + " | ".join(str(r) for r in cand),
                "rounds (ORM): " + " | ".join(str(r) for r in base),
            ],
            data={"candidate": [r.__dict__ for r in cand], "baseline": [r.__dict__ for r in base]},
        )


def run(ctx: Context) -> list[Result]:
    return P4(ctx).run()
