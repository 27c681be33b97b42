"""P1: the top-50 volunteers for a need among 1,000,000 (ARCHITECTURE.md P1, issue 5).

The city of bench/p1_data.py (1,000,000 volunteers over ~50 km around Shanghai; skills,
certificates, weekly slots, days off, genders, statuses), once on PostgreSQL (the benchmark
database) and once on SQLite (a file outside the repository, ``P1_SQLITE_PATH``, default
``$TMPDIR/huzhu-bench/p1.sqlite3``); each database is measured by its own worker process
(``python -m bench.p1_match worker …``) with Django pointed at it.

Per round, ``NEEDS`` needs placed like the people (type → one skill, a day of the coming week
between 08:00 and 20:00, 1–2 hours, radius 3 km; 10 % ask for a gender, 10 % for strength,
the nursing and counselling types for a certificate):

candidate: ``huzhu.needs.suggest.ranked(need, 50)`` — the function the match page calls: the
           SQL filter on the stored positions and the grid-cell index (``nearest_candidates``:
           the 100 nearest people the hard constraints SQL can test keep, in widening
           circles), their facts (``build_candidates``), the pure core's rules and scores,
           the reasons. p50 and p99 over all calls of the round.
baseline:  the same ``ranked`` with the location filter of before the denormalised columns: the
           person's position computed per row from their own coordinates, building and
           community (``candidates.with_location``, a CASE over two joins, which no index
           serves), the same box and order — i.e. an unindexed scan of the volunteers.
           ``BASELINE_NEEDS`` calls per round (each scans the table).

Every baseline call must return the same volunteers, in the same order, as the candidate (or
the run fails). ratio = baseline p50 ÷ candidate p50. The split of the candidate's time is
printed too: the SQL filter alone (``nearest_candidates``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    ROOT,
    BenchError,
    Context,
    Result,
    bench_url,
    fmt_seconds,
    median,
    percentile,
    say,
)

FULL_SIZE = 1_000_000
NEEDS = 300
BASELINE_NEEDS = 3
LIMIT = 50
TARGET_P99 = {"postgresql": 0.005, "sqlite": 0.010}
TARGET_RATIO = 40.0
WORKER_TIMEOUT = 1_800


def sqlite_path() -> Path:
    default = Path(tempfile.gettempdir()) / "huzhu-bench" / "p1.sqlite3"
    return Path(os.environ.get("P1_SQLITE_PATH") or default)


# --------------------------------------------------------------------------- the worker


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["HUZHU_DEBUG"] = "0"
    os.environ["HUZHU_DB_CONN_MAX_AGE"] = "600"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _need_types(city: Any) -> list[Any]:
    from bench.p1_data import SKILLS
    from huzhu.needs.models import NeedType

    types = []
    for code, name, name_en, _w, _cert in SKILLS:
        nt, created = NeedType.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en}
        )
        if created or not nt.skills.exists():
            nt.skills.set([city.skill_ids[code]])
        types.append(nt)
    return types


def _needs(city: Any, n: int, seed: int) -> list[Any]:
    """``n`` needs of the coming week, placed like the people."""
    import numpy as np
    from django.utils import timezone

    from bench.p1_data import _points
    from huzhu.needs.models import Need

    rng = np.random.default_rng(seed)
    types = _need_types(city)
    lat, lon = _points(rng, n)
    now = timezone.now()
    today = timezone.localdate()
    out = []
    for i in range(n):
        nt = types[int(rng.integers(0, len(types)))]
        day = today + dt.timedelta(days=int(rng.integers(1, 8)))
        start = timezone.make_aware(
            dt.datetime.combine(
                day, dt.time(int(rng.integers(8, 19)), 30 * int(rng.integers(0, 2)))
            )
        )
        minutes = int(rng.choice([60, 90, 120]))
        r = rng.random()
        out.append(
            Need(
                community_id=city.community_ids[int(rng.integers(0, len(city.community_ids)))],
                latitude_e6=int(lat[i]),
                longitude_e6=int(lon[i]),
                need_type=nt,
                description="P1 bench",
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=minutes),
                duration_minutes=minutes,
                radius_m=3000,
                gender="F" if r < 0.05 else ("M" if r < 0.10 else ""),
                needs_strength=bool(rng.random() < 0.10),
                certification_required=False,
                requester_id=city.requester_id,
                published_by_id=city.requester_id,
                state="approved",
                state_changed_at=now,
            )
        )
    return Need.objects.bulk_create(out)


class _Unindexed:
    """``candidates.near`` and ``candidates.distance_proxy`` as they were before the stored
    position: computed per row from the person, their building and their community (a CASE
    over two joins), which no index serves. Patched in for the baseline, so that
    ``nearest_candidates`` runs the same steps and must give the same answers."""

    def __enter__(self) -> None:
        from unittest import mock

        from django.db.models import IntegerField, Q, Value
        from django.db.models.functions import Cast, Round
        from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

        from huzhu.needs import candidates as c

        def micro(axis: str) -> Any:
            return Cast(Round(c._location_expr(axis) * Value(c.MICRO)), IntegerField())

        def near(lat: float, lon: float, radius_m: int) -> Q:
            lat_lo, lat_hi, lon_lo, lon_hi = c.box_e6(lat, lon, radius_m)
            return Q(
                GreaterThanOrEqual(micro("latitude"), lat_lo),
                LessThanOrEqual(micro("latitude"), lat_hi),
                GreaterThanOrEqual(micro("longitude"), lon_lo),
                LessThanOrEqual(micro("longitude"), lon_hi),
            )

        real_proxy = c.distance_proxy

        def proxy(lat: float, lon: float, *_a: Any) -> Any:
            return real_proxy(lat, lon, micro("latitude"), micro("longitude"))

        self.patches = [
            mock.patch.object(c, "near", near),
            mock.patch.object(c, "distance_proxy", proxy),
        ]
        for p in self.patches:
            p.start()

    def __exit__(self, *exc: object) -> None:
        for p in self.patches:
            p.stop()


def _timed_ranked(needs: list[Any], legacy: bool) -> tuple[list[float], list[list[int]]]:
    import contextlib

    from huzhu.needs import suggest

    times, answers = [], []
    with _Unindexed() if legacy else contextlib.nullcontext():
        for need in needs:
            start = time.perf_counter()
            got = suggest.ranked(need, LIMIT, load_limit=3)
            times.append(time.perf_counter() - start)
            answers.append([s.volunteer_id for s in got])
    return times, answers


def worker(cfg: dict[str, Any]) -> dict[str, Any]:
    _setup(cfg["url"])
    from django.db import connection

    from bench.p1_data import city
    from huzhu.needs.candidates import POOL_SIZE, nearest_candidates
    from huzhu.needs.models import Need

    vendor = connection.vendor
    data = city(cfg["size"])
    Need.objects.filter(description="P1 bench").delete()
    rounds = cfg["rounds"]
    needs = _needs(data, cfg["needs"] * rounds, cfg["seed"])
    pool = max(POOL_SIZE, 2 * LIMIT)
    try:
        # Warm-up: caches, the ORM's compiled paths.
        _timed_ranked(needs[:20], legacy=False)
        out: dict[str, Any] = {
            "vendor": vendor,
            "seeded_seconds": data.seeded_seconds,
            "rounds": [],
        }
        rng = random.Random(cfg["seed"])  # noqa: S311 - workload
        for r in range(rounds):
            chunk = needs[r * cfg["needs"] : (r + 1) * cfg["needs"]]
            base_needs = rng.sample(chunk, cfg["baseline_needs"])
            order = ("candidate", "baseline") if r % 2 == 0 else ("baseline", "candidate")
            row: dict[str, Any] = {}
            for side in order:
                if side == "candidate":
                    times, _answers = _timed_ranked(chunk, legacy=False)
                    row["candidate"] = times
                else:
                    times, answers = _timed_ranked(base_needs, legacy=True)
                    row["baseline"] = times
                    row["baseline_answers"] = answers
            _t, same = _timed_ranked(base_needs, legacy=False)
            if same != row["baseline_answers"]:
                raise BenchError(
                    f"P1 {vendor}: the unindexed baseline ranked other volunteers than the "
                    f"candidate for need {base_needs[0].pk}…"
                )
            sql = []
            sizes = []
            for need in chunk:
                start = time.perf_counter()
                ids = nearest_candidates(need, pool=pool, load_limit=3)
                sql.append(time.perf_counter() - start)
                sizes.append(len(ids))
            row["sql"] = sql
            row["pool_sizes"] = sizes
            del row["baseline_answers"]
            c, b = row["candidate"], row["baseline"]
            say(
                f"  P1 {vendor} round {r + 1}/{rounds}: candidate p50 "
                f"{fmt_seconds(percentile(c, 50))} p99 {fmt_seconds(percentile(c, 99))} "
                f"({len(c)} needs; SQL filter p50 {fmt_seconds(percentile(sql, 50))}, "
                f"pool median {median(sizes):.0f}) · baseline p50 "
                f"{fmt_seconds(percentile(b, 50))} ({len(b)} needs)"
            )
            out["rounds"].append(row)
        return out
    finally:
        Need.objects.filter(description="P1 bench").delete()


# --------------------------------------------------------------------------- the run


def _run_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.Popen(  # noqa: S603 - our own module, arguments built here
        [sys.executable, "-m", "bench.p1_match", "worker", json.dumps(cfg)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert proc.stdout is not None
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
        else:
            say(line.rstrip())
    code = proc.wait(timeout=WORKER_TIMEOUT)
    if code != 0 or result is None:
        raise BenchError(f"P1: the {cfg['url'].split(':')[0]} worker failed (exit {code})")
    if "error" in result:
        raise BenchError(result["error"])
    return result


def _result(out: dict[str, Any], size: int, needs: int) -> Result:
    vendor = out["vendor"]
    label = "PostgreSQL" if vendor == "postgresql" else "SQLite"
    rounds = out["rounds"]
    p50 = median([percentile(r["candidate"], 50) for r in rounds])
    p99 = median([percentile(r["candidate"], 99) for r in rounds])
    sql50 = median([percentile(r["sql"], 50) for r in rounds])
    sql99 = median([percentile(r["sql"], 99) for r in rounds])
    b50 = median([percentile(r["baseline"], 50) for r in rounds])
    ratio = b50 / p50
    target = TARGET_P99[vendor]
    pools = [s for r in rounds for s in r["pool_sizes"]]
    return Result(
        id="P1" if vendor == "postgresql" else "P1s",
        workload=f"top-{LIMIT} match among {size:,} volunteers, {label}",
        candidate=f"p50 {fmt_seconds(p50)} · p99 {fmt_seconds(p99)}",
        baseline=f"unindexed scan p50 {fmt_seconds(b50)}",
        ratio=ratio,
        target=f"p99 ≤ {target * 1000:.0f} ms, ≥ {TARGET_RATIO:.0f}×",
        meets=p99 <= target and ratio >= TARGET_RATIO,
        notes=[
            f"{label}: suggest.ranked(need, {LIMIT}) for {needs} needs per round (radius 3 km, "
            f"a day of the coming week); SQL filter alone (nearest_candidates, the grid-cell "
            f"index) p50 {fmt_seconds(sql50)} · p99 {fmt_seconds(sql99)}; scored pool per need: "
            f"median {median(pools):.0f}, min {min(pools)}, max {max(pools)}. Baseline: the "
            f"same ranked() with the position computed per row (CASE over person, building, "
            f"community; no index), {len(rounds[0]['baseline'])} needs per round, same "
            f"answers checked."
            + (
                f" City made in {out['seeded_seconds']:.0f} s (cached for later runs)."
                if out.get("seeded_seconds")
                else " City reused from an earlier run."
            ),
        ],
        data={
            "p50": p50,
            "p99": p99,
            "sql_p50": sql50,
            "sql_p99": sql99,
            "baseline_p50": b50,
            "rounds": [
                {
                    "candidate_p50": percentile(r["candidate"], 50),
                    "candidate_p99": percentile(r["candidate"], 99),
                    "baseline": r["baseline"],
                }
                for r in rounds
            ],
        },
    )


def run(ctx: Context) -> list[Result]:
    size = ctx.scaled(FULL_SIZE, minimum=10_000)
    needs = ctx.scaled(NEEDS, minimum=50)
    base = BASELINE_NEEDS if ctx.scale >= 0.5 else 3
    path = sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    results = []
    for url in (bench_url(), f"sqlite:///{path}"):
        cfg = {
            "url": url,
            "size": size,
            "needs": needs,
            "baseline_needs": base,
            "rounds": ctx.rounds,
            "seed": ctx.seed,
        }
        say(f"  P1 on {url.split('://')[0]}: {size:,} volunteers, {needs} needs per round")
        results.append(_result(_run_worker(cfg), size, needs))
    return results


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "worker":
        sys.stderr.write("usage: python -m bench.p1_match worker '<json>'\n")
        return 2
    try:
        out = worker(json.loads(argv[1]))
    except BenchError as exc:
        out = {"error": str(exc)}
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
