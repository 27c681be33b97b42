"""The entry of ``make bench`` / ``python -m bench``.

    python -m bench                      # every benchmark, 3 rounds, full size
    python -m bench --only P6 --rounds 5
    python -m bench --only P6 --scale 0.1   # a quick run on a tenth of the data
    python -m bench --reseed             # drop the benchmark database and seed it again

The benchmark database is ``BENCH_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/huzhu_bench): created and migrated here, data seeded once and
reused. Exit status: 0 when every figure was measured (1 with --strict when one misses its
target), 2 when a benchmark could not measure what it claims to.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import time
from collections.abc import Sequence

from bench.harness import (
    BenchError,
    Context,
    Result,
    bench_url,
    check_url,
    ensure_database,
    migrate,
    notes,
    say,
    server_info,
    setup_django,
    table,
    write_results,
)

# id → module with ``run(ctx) -> list[Result]``; later issues add P1, P7, P8, P10.
BENCHMARKS: dict[str, str] = {
    "P1": "bench.p1_match",
    "P2": "bench.p2_batch",
    "P3": "bench.p3_ledger",
    "P4": "bench.p4_ledger",
    "P6": "bench.p6_broadcast",
    "P7": "bench.p7_intake",
}


def _args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help=f"run only these benchmarks (repeat or comma-separate): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of candidate and baseline each, at least 3 (default 3)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the full data size, for a quick run (default 1)",
    )
    parser.add_argument(
        "--reseed", action="store_true", help="drop the benchmark database and seed the data again"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a figure misses its target"
    )
    # `make bench BENCH_ARGS="--only P6 --rounds 5"` passes its arguments as one word.
    words = [w for arg in argv for w in shlex.split(arg)]
    args = parser.parse_args(words)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3 (a figure is a median of >= 3 rounds)")
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    only = [i.strip().upper() for item in args.only for i in item.split(",") if i.strip()]
    unknown = [i for i in only if i not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    args.only = only or list(BENCHMARKS)
    return args


def _load() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the box makes figures noisy."""
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    args = _args(sys.argv[1:] if argv is None else argv)
    ctx = Context(rounds=args.rounds, scale=args.scale, reseed=args.reseed)
    started = time.perf_counter()
    results: list[Result] = []
    try:
        url = bench_url()
        check_url(url)
        created = ensure_database(url, drop=args.reseed)
        setup_django(url)
        say(
            f"benchmark database {url.rsplit('/', 1)[-1]}"
            f"{' (created)' if created else ''}: migrating…"
        )
        migrate()
        meta = {"postgres": server_info(), "load_before": _load()}
        cpus = os.cpu_count() or 1
        if meta["load_before"][0] > cpus:
            say(
                f"note: the machine is busy (load {meta['load_before'][0]:.1f} on {cpus} cores); "
                f"the figures will be noisy"
            )
        for bench_id in args.only:
            module = importlib.import_module(BENCHMARKS[bench_id])
            say(f"== {bench_id} ==")
            results.extend(module.run(ctx))
    except BenchError as exc:
        say(f"\nBENCHMARK FAILED: {exc}")
        return 2
    meta["wall_seconds"] = round(time.perf_counter() - started, 1)
    meta["load_after"] = _load()
    path = write_results(results, ctx, meta)
    say("")
    say(table(results))
    say("")
    say(notes(results))
    say("")
    say(
        f"{len(args.only)} benchmark(s), {ctx.rounds} rounds, scale {ctx.scale:g}, "
        f"{meta['wall_seconds']:.0f} s, load average {meta['load_before'][0]:.1f} → "
        f"{meta['load_after'][0]:.1f} on {os.cpu_count()} cores; results in "
        f"{path.relative_to(path.parents[2])}"
    )
    missed = [r.id for r in results if r.meets is False]
    return 1 if args.strict and missed else 0
