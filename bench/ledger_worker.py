"""A worker process of P3 (the kill -9 part) and P4 (action-layer throughput).

    python -m bench.ledger_worker kill '{"impl": "candidate", "accounts": [...], "tag": "…"}'
    python -m bench.ledger_worker throughput '{"people": [...], "accounts": [...], ...}'

``kill``: transfers between the given accounts, one after the other, until killed. After the
postings of the ``pause_after``-th transfer are inserted (still inside its database transaction
for the real ledger; after the first posting's autocommit for the naive one) it prints
``MID <backend pid> <key>`` and waits on stdin: the parent SIGKILLs it there, or terminates
its database backend (``pg_terminate_backend``). The pause is injected here, with an execute
wrapper around the worker's connection; the product code is the unchanged
``huzhu.timebank.actions.transfer``.

``throughput``: prints ``READY``, waits for a line on stdin, then runs
``huzhu.timebank.actions.transfer`` (actor: the paying person) between random accounts for
``seconds`` and prints one JSON line with the count.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import sys
import time
from typing import Any


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _setup() -> None:
    from bench.harness import bench_url, setup_django

    setup_django(os.environ.get("BENCH_WORKER_URL") or bench_url())


def kill_mode(cfg: dict[str, Any]) -> None:
    from django.db import connection

    impl = cfg["impl"]
    accounts: list[int] = cfg["accounts"]
    pause_after = int(cfg.get("pause_after", 5))
    tag = cfg["tag"]
    rng = random.Random(cfg.get("seed", 1))  # noqa: S311 - workload, not security
    posting_table = "timebank_posting" if impl == "candidate" else "bench_naive_posting"
    state = {"n": 0, "key": ""}

    # Where the posting is written but not committed: after the postings' INSERT (the ORM path,
    # the naive ledger), after the one statement of the PostgreSQL fast path, or after the batch
    # statement of group commit (run by the process's writer thread, on its own connection).
    points: tuple[str, ...] = (f'INSERT INTO "{posting_table}"',)
    if impl == "candidate":
        from huzhu.timebank import fastpath, groupcommit

        points += (fastpath.STATEMENT_PREFIX, groupcommit.STATEMENT_PREFIX)

    def pause(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        # (connection: the executing thread's — the caller's, or the group-commit writer's)
        if sql.lstrip().startswith(points) and state["n"] >= pause_after:
            pid = connection.connection.info.backend_pid
            _out(f"MID {pid} {state['key']}")
            # Wait for the parent: it SIGKILLs us here, or ends our backend and closes stdin.
            sys.stdin.readline()
            state["n"] = -(10**9)  # pause once
        return result

    if impl == "candidate":
        from huzhu.timebank import actions
        from huzhu.timebank.models import Account

        groupcommit.execute_wrappers.append(pause)

        objects = {a.pk: a for a in Account.objects.filter(pk__in=accounts)}

        def one(payer: int, payee: int, amount: int, key: str) -> None:
            from huzhu.core.errors import DomainError

            with contextlib.suppress(DomainError):
                actions.transfer(
                    actor=None, payer=objects[payer], payee=objects[payee], amount=amount, key=key
                )
    else:
        from bench import naive_ledger

        def one(payer: int, payee: int, amount: int, key: str) -> None:
            with contextlib.suppress(naive_ledger.Insufficient):
                naive_ledger.transfer(payer_id=payer, payee_id=payee, amount=amount, key=key)

    _out("READY")
    with connection.execute_wrapper(pause):
        while True:
            state["n"] += 1
            payer, payee = rng.sample(accounts, 2)
            state["key"] = f"{tag}-{state['n']}"
            one(payer, payee, rng.randint(1, 300), state["key"])


def throughput_mode(cfg: dict[str, Any]) -> None:
    """``threads`` callers in this process (the requests a server process serves at once), each
    in a closed loop of ``huzhu.timebank.actions.transfer`` between random accounts."""
    import threading

    from django.db import connections

    from huzhu.accounts.models import Person
    from huzhu.core.errors import DomainError
    from huzhu.timebank import actions, groupcommit
    from huzhu.timebank.models import Account

    accounts: list[int] = cfg["accounts"]
    seconds = float(cfg["seconds"])
    tag = cfg["tag"]
    threads = int(cfg.get("threads", 1))
    objects = {a.pk: a for a in Account.objects.select_related("community").filter(pk__in=accounts)}
    people = {
        p.pk: p for p in Person.objects.filter(pk__in=[a.person_id for a in objects.values()])
    }
    pairs = [(a.pk, people[a.person_id]) for a in objects.values()]
    counts = [[0, 0] for _ in range(threads)]
    go = threading.Event()
    bounds = {"deadline": 0.0}

    def caller(t: int) -> None:
        rng = random.Random(cfg["seed"] * 1000 + t)  # noqa: S311 - workload, not security
        go.wait()
        n = 0
        try:
            while time.perf_counter() < bounds["deadline"]:
                (payer_pk, person), (payee_pk, _p) = rng.sample(pairs, 2)
                # Each request loads its own account objects, as a request would.
                payer, payee = copy.copy(objects[payer_pk]), copy.copy(objects[payee_pk])
                try:
                    actions.transfer(
                        actor=person,
                        payer=payer,
                        payee=payee,
                        amount=rng.randint(1, 100),
                        key=f"{tag}-t{t}-{n}",
                    )
                    counts[t][0] += 1
                except DomainError:
                    counts[t][1] += 1
                n += 1
        finally:
            connections.close_all()

    workers = [threading.Thread(target=caller, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    _out("READY")
    sys.stdin.readline()
    start = time.perf_counter()
    bounds["deadline"] = start + seconds
    go.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    done = sum(c[0] for c in counts)
    refused = sum(c[1] for c in counts)
    _out(
        json.dumps(
            {
                "done": done,
                "refused": refused,
                "seconds": elapsed,
                "batches": groupcommit.writer.batches,
                "batched": groupcommit.writer.postings,
            }
        )
    )


def main() -> None:
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    _setup()
    if mode == "kill":
        kill_mode(cfg)
    elif mode == "throughput":
        throughput_mode(cfg)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
