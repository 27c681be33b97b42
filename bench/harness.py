"""The small harness every benchmark uses.

* the benchmark database: its own PostgreSQL database (``BENCH_DATABASE_URL``, default
  ``postgres://postgres@127.0.0.1:5432/huzhu_bench``), created and migrated here, never the
  development or the test database;
* ``alternate()``: candidate and baseline in alternating rounds (ABBA order, so that neither
  always runs first on a warm or a cold cache), the median of N >= 3 rounds;
* ``Result`` rows, printed as one text table (id, workload, candidate, baseline, ratio, target,
  verdict) and written to ``test-output/bench/results.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/huzhu_bench"
RESULTS_PATH = ROOT / "test-output" / "bench" / "results.json"

T = TypeVar("T")


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims to measure: fail the run loudly."""


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- the database


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL


def _db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def check_url(url: str) -> None:
    """Only a PostgreSQL database whose name says it is for benchmarks, and never the one the
    development server or the test suite use."""
    parts = urlsplit(url)
    name = _db_name(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchError(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {parts.scheme}://")
    if "bench" not in name:
        raise BenchError(
            f"refusing database {name!r}: a benchmark database's name contains "
            f"'bench' (the data in it is created and dropped by the harness)"
        )
    for var in ("DATABASE_URL", "TEST_DATABASE_URL"):
        other = os.environ.get(var)
        if other and name in (_db_name(other), f"test_{_db_name(other)}"):
            raise BenchError(f"refusing database {name!r}: it is the one {var} points at")


def ensure_database(url: str, *, drop: bool = False) -> bool:
    """Create the benchmark database if it does not exist (drop it first with ``drop``).
    Returns True when it was created now."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    cfg = dj_database_url.parse(url)
    name = cfg["NAME"]
    try:
        conn = psycopg.connect(
            host=cfg["HOST"] or "127.0.0.1",
            port=cfg["PORT"] or 5432,
            user=cfg["USER"] or "postgres",
            password=cfg["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=5,
            autocommit=True,
        )
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL unreachable for the benchmarks ({url}): {exc}") from exc
    with conn:
        if drop:
            say(f"dropping benchmark database {name} (--reseed)")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def setup_django(url: str) -> None:
    """Point Django at the benchmark database and set it up. Must run before any model import.

    DEBUG is off (with DEBUG on, Django records every query, which would slow and bloat the
    many-query baselines); tasks use the database backend (django_tasks_db); connections
    persist."""
    os.environ["DATABASE_URL"] = url
    os.environ["HUZHU_DEBUG"] = "0"
    os.environ["HUZHU_TASKS_BACKEND"] = "database"
    # Persistent connections, as a deployed worker would have: with the default 0 the
    # db_worker loop (close_old_connections) would reconnect for every task.
    os.environ["HUZHU_DB_CONN_MAX_AGE"] = "600"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise BenchError("the benchmarks run on PostgreSQL only")


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def execute(statement: str, params: Sequence[Any] = ()) -> Any:
    """Run one SQL statement on the default connection; the first row, if any."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else None


def checkpoint() -> None:
    """Flush dirty pages before a timed round, so that no round pays for an earlier round's
    writes (needs a superuser or pg_checkpoint; skipped quietly otherwise)."""
    from django.db import DatabaseError

    with contextlib.suppress(DatabaseError):
        execute("CHECKPOINT")


def vacuum(*tables: str) -> None:
    """VACUUM ANALYZE (outside any transaction): fresh statistics and visibility map, as
    autovacuum would leave them on a live system."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")


def server_info() -> dict[str, Any]:
    info: dict[str, Any] = {}
    row = execute("SELECT version()")
    info["version"] = row[0] if row else ""
    for setting in (
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "max_wal_size",
        "work_mem",
        "max_parallel_workers_per_gather",
    ):
        row = execute(f"SHOW {setting}")
        info[setting] = row[0] if row else ""
    return info


# --------------------------------------------------------------------------- measuring


@dataclass
class Context:
    rounds: int = 3
    scale: float = 1.0
    reseed: bool = False
    seed: int = 20_200_124
    notes: dict[str, Any] = field(default_factory=dict)

    def scaled(self, n: int, minimum: int = 1) -> int:
        return max(minimum, round(n * self.scale))


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def alternate(
    candidate: Callable[[int], T],
    baseline: Callable[[int], T],
    rounds: int,
    *,
    label: str = "",
    show: Callable[[T], str] = str,
) -> tuple[list[T], list[T]]:
    """Run candidate and baseline ``rounds`` times each, alternating in ABBA order (round 0:
    candidate then baseline; round 1: baseline then candidate; …). Each callable gets the round
    number and returns its measurement."""
    if rounds < 3:
        raise BenchError("a figure is the median of at least 3 rounds")
    cand: list[T] = []
    base: list[T] = []
    for i in range(rounds):
        order = [("candidate", candidate, cand), ("baseline", baseline, base)]
        if i % 2:
            order.reverse()
        for name, fn, out in order:
            value = fn(i)
            out.append(value)
            say(f"  {label} round {i + 1}/{rounds} {name:<9} {show(value)}")
    return cand, base


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a sample."""
    ordered = sorted(values)
    if not ordered:
        raise BenchError("no samples")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


# --------------------------------------------------------------------------- reporting


def fmt_seconds(s: float) -> str:
    if s >= 100:
        return f"{s:,.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.001:
        return f"{s * 1000:.2f} ms"
    return f"{s * 1_000_000:.0f} µs"


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


@dataclass
class Result:
    id: str
    workload: str
    candidate: str
    baseline: str
    ratio: float | None
    target: str
    meets: bool | None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.meets is None:
            return "—"
        return "meets" if self.meets else "misses"

    @property
    def ratio_text(self) -> str:
        if self.ratio is None:
            return "—"
        return f"{self.ratio:,.1f}×" if self.ratio < 100 else f"{self.ratio:,.0f}×"


COLUMNS = ("id", "workload", "candidate", "baseline", "ratio", "target", "verdict")


def table(results: Sequence[Result]) -> str:
    rows = [COLUMNS] + [
        (r.id, r.workload, r.candidate, r.baseline, r.ratio_text, r.target, r.verdict)
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(results: Sequence[Result]) -> str:
    out = []
    for r in results:
        out.extend(f"[{r.id}] {note}" for note in r.notes)
    return "\n".join(out)


def write_results(
    results: Sequence[Result], ctx: Context, meta: dict[str, Any], path: Path = RESULTS_PATH
) -> Path:
    import django

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rounds": ctx.rounds,
        "scale": ctx.scale,
        "environment": {
            "python": platform.python_version(),
            "django": django.get_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            **meta,
        },
        "notes": ctx.notes,
        "results": [
            {
                **{k: v for k, v in asdict(r).items() if k != "meets"},
                "ratio_text": r.ratio_text,
                "verdict": r.verdict,
            }
            for r in results
        ],
    }
    path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return path


def start_granian(
    label: str, workers: int, threads: int, log_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """The project's WSGI app (``config.wsgi`` with ``bench.settings``, DEBUG off, persistent
    connections) under granian on a free local port, answered once ``/bench/ping/`` says ok.
    Its output goes to ``log_path``; returns the process and the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    granian = Path(sys.executable).with_name("granian")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": bench_url(),
        "HUZHU_DEBUG": "0",
        "HUZHU_TASKS_BACKEND": "database",
        "HUZHU_DB_CONN_MAX_AGE": "600",
        "PYTHONPATH": str(ROOT),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - the venv's granian, arguments built here
            [
                str(granian),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--blocking-threads",
                str(threads),
                "--no-access-log",
                "--log-level",
                "warning",
                "config.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log_path.read_text(errors="replace")
            raise BenchError(f"{label}: granian exited: {err[-500:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/ping/", timeout=2) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise BenchError(f"{label}: granian did not answer within 60 s")
