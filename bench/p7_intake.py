"""P7: group-buy order intake under a peak, over HTTP, against a plain create endpoint in the
same run (bench/README.md explains how to read it).

Data: one community (in the benchmark alliance) of ``FULL_HOUSEHOLDS`` households in buildings
of 20 floors × 20, one resident each with an API token (``p7-<person id>``, only its hash
stored), and a branch head who opens the group buys. Seeded once with set-based SQL, reused.

Each round opens a fresh group buy over every building (so every household may order once)
with three items: 蔬菜包 (unlimited), 鸡蛋 (stock for every household: a hot row every order
touches) and 大米 (scarce: ordered by every tenth household, it sells out during the round and
the later ones are refused with 409).

candidate  ``POST /api/v1/lockdown/group-buys/<id>/orders`` (bearer token, ``Idempotency-Key``;
           the intake gate, ``huzhu.lockdown.actions.place_order``, audit entry) served by
           granian (WSGI, ``HTTP_WORKERS`` × ``HTTP_THREADS``); every ``REPLAY_EVERY``-th
           request replays the previous key (must answer 200 with the same order).
baseline   ``POST /bench/orm/group-buys/<id>/orders`` of bench/urls_bench.py: the same body
           through a ModelForm per line and ``create()`` in one transaction; no key, no gate,
           no audit entry. Same server, same run, alternating rounds.
overload   after the rounds, one candidate round with ``OVERLOAD_CLIENTS`` connections (far
           past the gate): the 429s must be fast and nothing acknowledged may be lost.

Every round checks its work: every 201's order is in the database with its lines, one order per
key, replays answered the same order, no item sold past its stock (``sold`` equals the placed
lines and is within ``stock``).

``python -m bench.p7_intake loadgen`` (config on stdin) is the load generator: stdlib only,
asyncio, keep-alive connections, each a closed loop over its share of the households.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import (
    ROOT,
    BenchError,
    Context,
    Result,
    alternate,
    execute,
    fmt_int,
    fmt_seconds,
    median,
    say,
    start_granian,
    vacuum,
)

FULL_HOUSEHOLDS = 24_000
MIN_HOUSEHOLDS = 7_200
FLOORS = 20
PER_FLOOR = 20
PHONE_PREFIX = "135"  # P6: 139/137, ledger: 136
HTTP_WORKERS = max(2, os.cpu_count() or 2)
HTTP_THREADS = 64  # per worker: more than the gate admits, so the spare threads answer 429
CLIENTS = 16
OVERLOAD_CLIENTS = 96
SECONDS = 8.0
WARMUP = 1.0
REPLAY_EVERY = 25
SCARCE_EVERY = 10  # every tenth household also wants the scarce item
TARGET_RATE = 1_000
TARGET_P99 = 0.100
API_PATH = "/api/v1/lockdown/group-buys/{gb}/orders"
ORM_PATH = "/bench/orm/group-buys/{gb}/orders"
LOG_PATH = ROOT / "test-output" / "bench" / "p7-granian.log"


def _name(n: int) -> str:
    return f"基准测试团购社区 {n}"


def token_of(person_id: int) -> str:
    return f"p7-{person_id}"


# --------------------------------------------------------------------------- data


@dataclass
class IntakeCommunity:
    community_id: int
    households: int
    leader_id: int
    building_ids: list[int]
    people: list[int]  # one resident per household, ordered by id
    seeded_seconds: float | None


def intake_community(n: int) -> IntakeCommunity:
    from bench.data import ALLIANCE
    from huzhu.orgs.models import Community

    community = Community.objects.filter(alliance__name=ALLIANCE, name=_name(n)).first()
    if community is None:
        start = time.perf_counter()
        data = _seed(n)
        vacuum("orgs_building", "accounts_household", "accounts_person", "accounts_apitoken")
        data.seeded_seconds = time.perf_counter() - start
        say(f"seeded {n:,} households for P7 in {data.seeded_seconds:.1f} s")
        return data
    data = _load(community.pk, n)
    say(f"reusing the {n:,} households of P7 (community {community.pk})")
    return data


def _load(cid: int, n: int) -> IntakeCommunity:
    from huzhu.accounts.models import ApiToken, Household, Person, RoleGrant
    from huzhu.orgs.models import Building

    people = list(
        Person.objects.filter(community_id=cid, household__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    households = Household.objects.filter(community_id=cid).count()
    tokens = ApiToken.objects.filter(person__community_id=cid, name="bench-p7").count()
    leader = (
        RoleGrant.objects.filter(community_id=cid, role="branch_head")
        .values_list("person_id", flat=True)
        .first()
    )
    counts = {"households": households, "residents": len(people), "tokens": tokens}
    wrong = {k: v for k, v in counts.items() if v != n}
    if wrong or leader is None:
        raise BenchError(
            f"the P7 dataset of {n:,} households is incomplete ({wrong or 'no branch head'}); "
            f"run again with --reseed"
        )
    buildings = list(
        Building.objects.filter(community_id=cid).order_by("pk").values_list("pk", flat=True)
    )
    return IntakeCommunity(cid, n, leader, buildings, people, None)


def _seed(n: int) -> IntakeCommunity:
    from django.db import connection, transaction

    from bench.data import ALLIANCE
    from huzhu.accounts import pii
    from huzhu.accounts.models import Person, Role, RoleGrant, ScopeKind
    from huzhu.orgs.models import Alliance, Community

    say(f"seeding {n:,} households for P7 (once; reused by later runs)…")
    buildings = math.ceil(n / (FLOORS * PER_FLOOR))
    with transaction.atomic():
        # Consistent by construction (ids from joins on the rows just written): the
        # foreign-key triggers are skipped for this transaction, as pg_restore does.
        execute("SET LOCAL session_replication_role = replica")
        alliance, _created = Alliance.objects.get_or_create(
            name=ALLIANCE, defaults={"name_en": "Benchmark alliance"}
        )
        community = Community.objects.create(
            alliance=alliance, name=_name(n), name_en=f"Group buying ({n:,})", district="bench"
        )
        cid = community.pk
        execute(
            "INSERT INTO orgs_building (created_at, updated_at, community_id, name, floors) "
            "SELECT now(), now(), %s, b || '号楼', %s FROM generate_series(1, %s) b",
            [cid, FLOORS, buildings],
        )
        execute(
            "INSERT INTO accounts_household (created_at, updated_at, community_id, building_id, "
            "room, floor, address_detail) "
            "SELECT now(), now(), %s, h.building_id, h.room, h.floor, '' FROM ("
            "  SELECT b.id AS building_id, f || lpad(u::text, 2, '0') AS room, f AS floor "
            "  FROM orgs_building b, generate_series(1, %s) f, generate_series(1, %s) u "
            "  WHERE b.community_id = %s ORDER BY b.id, f, u LIMIT %s) h",
            [cid, FLOORS, PER_FLOOR, cid, n],
        )
        execute(
            "CREATE TEMP TABLE bench_p7_phone (i integer PRIMARY KEY, phone text NOT NULL, "
            "phone_hash varchar(64) NOT NULL) ON COMMIT DROP"
        )
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY bench_p7_phone (i, phone, phone_hash) FROM STDIN") as copy,
        ):
            for i in range(1, n + 1):
                phone = f"{PHONE_PREFIX}{cid % 1000:03d}{i:05d}"
                copy.write_row((i, pii.encrypt(phone), pii.phone_index(phone)))
        execute(
            "INSERT INTO accounts_person (password, is_superuser, phone, phone_hash, name, "
            "gender, id_number, emergency_contact, languages, status, preferred_language, "
            "large_text, is_staff, is_active, date_joined, community_id, household_id) "
            "SELECT '!', false, p.phone, p.phone_hash, '住户' || p.i, 'U', '', '', "
            "'[]'::jsonb, 'active', 'zh-hans', false, false, true, now(), %s, h.id "
            "FROM bench_p7_phone p JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k "
            "  FROM accounts_household WHERE community_id = %s) h ON h.k = p.i ORDER BY p.i",
            [cid, cid],
        )
        execute(
            "INSERT INTO accounts_apitoken (created_at, updated_at, person_id, name, key_hash, "
            "last_used_at) SELECT now(), now(), id, 'bench-p7', "
            "encode(sha256(convert_to('p7-' || id, 'UTF8')), 'hex'), now() "
            "FROM accounts_person WHERE community_id = %s ORDER BY id",
            [cid],
        )
        leader = Person.objects.create_user(
            f"134{cid:08d}", password=None, name="基准测试团长", community=community
        )
        RoleGrant.objects.create(
            person=leader,
            role=Role.BRANCH_HEAD,
            scope_kind=ScopeKind.COMMUNITY,
            community=community,
        )
        data = _load(cid, n)
    return data


# --------------------------------------------------------------------------- measuring


@dataclass
class Round:
    label: str
    clients: int
    seconds: float
    status: dict[str, int]
    acked: int  # 201 in the window
    p50: float
    p99: float
    busy_p99: float  # 429 latency
    busy_max: float
    lost: int = 0
    duplicates: int = 0
    oversold: int = 0
    replay_mismatch: int = 0
    unacknowledged_written: int = 0
    exhausted: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    @property
    def violations(self) -> int:
        return self.lost + self.duplicates + self.oversold + self.replay_mismatch

    def __str__(self) -> str:
        busy = self.status.get("429", 0)
        text = (
            f"{fmt_int(self.acked)} acknowledged in {self.seconds:.0f} s = {fmt_int(self.rate)}/s, "
            f"p50 {fmt_seconds(self.p50)}, p99 {fmt_seconds(self.p99)}; answers {self.status}"
        )
        if busy:
            text += f"; 429 p99 {fmt_seconds(self.busy_p99)}"
        text += f"; lost {self.lost}, duplicate keys {self.duplicates}, oversold {self.oversold}"
        if self.replay_mismatch:
            text += f", replays answering another order {self.replay_mismatch}"
        if self.exhausted:
            text += f" (households ran out on {self.exhausted} connections)"
        return text


class P7:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.data = intake_community(ctx.scaled(FULL_HOUSEHOLDS, minimum=MIN_HOUSEHOLDS))
        self.seconds = max(3.0, SECONDS * ctx.scale)
        self.tag = f"p7-{time.time_ns()}"

    def _open(self, label: str) -> Any:
        import datetime as dt

        from huzhu.accounts.models import Person
        from huzhu.core import clock
        from huzhu.lockdown import actions
        from huzhu.lockdown.actions import ItemSpec
        from huzhu.orgs.models import Building, Community

        n = self.data.households
        return actions.open_group_buy(
            actor=Person.objects.get(pk=self.data.leader_id),
            community=Community.objects.get(pk=self.data.community_id),
            title=f"P7 {label}",
            supplier_name="基准测试供应商",
            deadline=clock.now() + dt.timedelta(days=1),
            buildings=list(Building.objects.filter(pk__in=self.data.building_ids)),
            items=[
                ItemSpec("蔬菜包", "份", 5800),
                ItemSpec("鸡蛋", "盒", 2650, stock=3 * n, per_household_max=3),
                ItemSpec("大米", "袋", 6900, stock=max(50, n // 80), per_household_max=2),
            ],
            key=f"{self.tag}-{label}",
        )

    def start_server(self) -> tuple[subprocess.Popen[bytes], int]:
        return start_granian("P7", HTTP_WORKERS, HTTP_THREADS, LOG_PATH)

    def run_round(self, port: int, side: str, round_no: int, clients: int) -> Round:
        label = f"{side}{round_no}"
        gb = self._open(label)
        # Tokens used within 5 minutes write nothing (person_for_token): the rounds measure
        # intake, not token bookkeeping — same for both sides.
        execute(
            "UPDATE accounts_apitoken SET last_used_at = now() WHERE name = 'bench-p7' "
            "AND person_id IN (SELECT id FROM accounts_person WHERE community_id = %s)",
            [self.data.community_id],
        )
        items = {i.name: i.pk for i in gb.items.all()}
        people = list(self.data.people)
        random.Random(self.ctx.seed + round_no).shuffle(people)  # noqa: S311 - workload
        path = (API_PATH if side != "orm" else ORM_PATH).format(gb=gb.pk)
        cfg = {
            "port": port,
            "path": path,
            "people": people,
            "clients": clients,
            "items": items,
            "seconds": self.seconds,
            "warmup": WARMUP,
            "tag": f"{self.tag}-{label}",
            "replay_every": REPLAY_EVERY if side != "orm" else 0,
            "scarce_every": SCARCE_EVERY,
        }
        proc = subprocess.run(
            [sys.executable, "-m", "bench.p7_intake", "loadgen"],
            input=json.dumps(cfg),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=self.seconds + 300,
        )
        if proc.returncode != 0:
            raise BenchError(f"P7: the load generator failed: {proc.stderr.strip()[-800:]}")
        out = json.loads(proc.stdout)
        unexpected = {k: v for k, v in out["status_all"].items() if k not in _EXPECTED[side]}
        if unexpected:
            raise BenchError(
                f"P7 {label}: unexpected answers {unexpected}; e.g. {out['samples'][:3]}"
            )
        r = Round(
            label=label,
            clients=clients,
            seconds=out["seconds"],
            status=out["status"],
            acked=out["ok"],
            p50=out["p50"],
            p99=out["p99"],
            busy_p99=out["busy_p99"],
            busy_max=out["busy_max"],
            exhausted=out["exhausted"],
        )
        self._verify(gb.pk, out, r)
        return r

    def _verify(self, gb_id: int, out: dict[str, Any], r: Round) -> None:
        """Every acknowledged order is in the database with its lines; one order per key;
        replays answered the order of their key; no item sold past its stock."""
        acked: dict[str, int] = dict(out["acked"])
        if len(acked) != len(out["acked"]):
            r.duplicates += len(out["acked"]) - len(acked)  # one key acknowledged twice (201)
        ids = list(acked.values())
        found = dict(
            (row[0], row[1])
            for row in _rows(
                "SELECT o.id, o.key FROM lockdown_order o WHERE o.group_buy_id = %s "
                "AND o.state = 'placed' AND o.id = ANY(%s) AND o.total_fen = "
                "(SELECT sum(l.quantity * l.price_fen) FROM lockdown_orderline l "
                " WHERE l.order_id = o.id)",
                [gb_id, ids],
            )
        )
        r.lost = sum(
            1
            for key, oid in acked.items()
            if oid not in found or (r.label[:3] != "orm" and found[oid] != key)
        )
        row = execute(
            "SELECT count(*) FROM (SELECT key FROM lockdown_order WHERE group_buy_id = %s "
            "GROUP BY key HAVING count(*) > 1) d",
            [gb_id],
        )
        r.duplicates += int(row[0]) if r.label[:3] != "orm" else 0
        r.replay_mismatch = sum(1 for key, oid in out["replays"] if acked.get(key) != oid)
        row = execute(
            # Limited items only (an unlimited item's ``sold`` is not kept).
            "SELECT count(*) FROM lockdown_groupbuyitem i WHERE i.group_buy_id = %s "
            "AND i.stock IS NOT NULL AND (i.sold > i.stock OR i.sold <> coalesce(("
            "  SELECT sum(l.quantity) FROM lockdown_orderline l JOIN lockdown_order o "
            "  ON o.id = l.order_id WHERE l.item_id = i.id AND o.state = 'placed'), 0))",
            [gb_id],
        )
        r.oversold = int(row[0])
        row = execute("SELECT count(*) FROM lockdown_order WHERE group_buy_id = %s", [gb_id])
        r.unacknowledged_written = int(row[0]) - len(acked)
        sold = _rows(
            "SELECT name, sold, stock FROM lockdown_groupbuyitem WHERE group_buy_id = %s "
            "ORDER BY position",
            [gb_id],
        )
        r.extra["sold"] = {name: f"{s}/{st if st is not None else '∞'}" for name, s, st in sold}

    def profile(self, n: int = 30) -> str:
        """One submission's statements and time through the API in this process (no server,
        no concurrency): where the time of a request goes."""
        from django.db import connection
        from django.test import Client

        gb = self._open("profile")
        items = {i.name: i.pk for i in gb.items.all()}
        client = Client(HTTP_HOST="127.0.0.1")
        spent = {"statements": 0, "seconds": 0.0}

        def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent["statements"] += 1
                spent["seconds"] += time.perf_counter() - start

        people = self.data.people[: n + 1]
        start = 0.0
        with connection.execute_wrapper(timer):
            for i, pid in enumerate(people):
                if i == 1:  # the first request loads the URLconf and the API: not timed
                    start = time.perf_counter()
                    spent.update(statements=0, seconds=0.0)
                resp = client.post(
                    API_PATH.format(gb=gb.pk),
                    json.dumps(
                        {
                            "lines": [
                                {"item_id": items["蔬菜包"], "quantity": 1},
                                {"item_id": items["鸡蛋"], "quantity": 1 + i % 3},
                            ]
                        }
                    ),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token_of(pid)}",
                    HTTP_IDEMPOTENCY_KEY=f"{self.tag}-profile-{i}",
                )
                if resp.status_code != 201:
                    raise BenchError(f"P7 profile: {resp.status_code} {resp.content[:200]!r}")
        total = (time.perf_counter() - start) / n
        stmt = spent["seconds"] / n
        return (
            f"one submission through the API in process (no server, no concurrency): "
            f"{fmt_seconds(total)} = {spent['statements'] / n:.0f} statements "
            f"{fmt_seconds(stmt)} + commit, Python and the rest {fmt_seconds(total - stmt)}"
        )

    def run(self) -> list[Result]:
        from huzhu.core.admission import default_limit

        limit = int(os.environ.get("HUZHU_INTAKE_MAX_INFLIGHT") or default_limit())
        proc, port = self.start_server()
        try:
            say(
                f"  HTTP: granian {HTTP_WORKERS} workers × {HTTP_THREADS} threads, intake gate "
                f"{limit} per worker; {CLIENTS} connections × {self.seconds:.0f} s "
                f"(+{WARMUP:.0f} s warm-up), {self.data.households:,} households"
            )
            cand, base = alternate(
                lambda i: self.run_round(port, "api", i, CLIENTS),
                lambda i: self.run_round(port, "orm", i, CLIENTS),
                self.ctx.rounds,
                label="P7",
            )
            say(f"  overload: {OVERLOAD_CLIENTS} connections against the same server")
            over = self.run_round(port, "over", 0, OVERLOAD_CLIENTS)
            say(f"  P7 overload {over}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        breakdown = self.profile()
        say(f"  {breakdown}")
        c, b = median([r.rate for r in cand]), median([r.rate for r in base])
        cp99, bp99 = median([r.p99 for r in cand]), median([r.p99 for r in base])
        violations = sum(r.violations for r in [*cand, over])
        base_violations = sum(r.lost + r.oversold for r in base)
        fast_429 = over.status.get("429", 0) > 0 and over.busy_p99 <= TARGET_P99
        meets = c >= TARGET_RATE and cp99 <= TARGET_P99 and violations == 0 and fast_429
        busy = sum(r.status.get("429", 0) for r in cand)
        return [
            Result(
                id="P7",
                workload=f"group-buy order intake over HTTP, {CLIENTS} connections",
                candidate=f"{fmt_int(c)} orders/s · p99 {fmt_seconds(cp99)} · lost {violations}",
                baseline=(
                    f"plain create {fmt_int(b)} orders/s · p99 {fmt_seconds(bp99)} · "
                    f"lost {base_violations}"
                ),
                ratio=c / b if b else None,
                target=f"≥ {TARGET_RATE:,} submissions/s, p99 ≤ 100 ms, 0 lost",
                meets=meets,
                notes=[
                    f"candidate: POST {API_PATH.format(gb='<id>')} (bearer token, "
                    f"Idempotency-Key, the intake gate of huzhu/core/admission.py, "
                    f"huzhu.lockdown.actions.place_order with its audit entry); every "
                    f"{REPLAY_EVERY}th request replays the previous key. baseline: POST "
                    f"{ORM_PATH.format(gb='<id>')} (bench/urls_bench.py: a ModelForm per line, "
                    f"select_for_update on the items, create() of the order and each line in one "
                    f"transaction; no key, no gate, no audit). One granian server (WSGI, "
                    f"{HTTP_WORKERS} workers × {HTTP_THREADS} threads, gate {limit} per worker, "
                    f"queue wait {os.environ.get('HUZHU_INTAKE_QUEUE_MS', '20')} ms) serves "
                    f"both; the load generator ({CLIENTS} keep-alive connections, closed loop, a "
                    f"fresh group buy per round over {self.data.households:,} households, each "
                    f"ordering once) shares the 2 cores with the server and PostgreSQL.",
                    f"figures: acknowledged orders (201) per second and the p99 of their "
                    f"latency; candidate rounds answered 429 {busy} times in all (a refused "
                    f"client sends the same key again after the answer's Retry-After). After "
                    f"every round: every 201's order is in the database with its lines, one "
                    f"order per key, replays answered the same order, no item past its stock "
                    f"(violations: candidate {violations}, baseline lost/oversold "
                    f"{base_violations}).",
                    f"overload: {OVERLOAD_CLIENTS} connections → {over}. 429 answered in p99 "
                    f"{fmt_seconds(over.busy_p99)} (max {fmt_seconds(over.busy_max)}); "
                    f"{'fast' if fast_429 else 'NOT fast (or no 429 at all)'}.",
                    "rounds (API): " + " | ".join(str(r) for r in cand),
                    "rounds (plain create): " + " | ".join(str(r) for r in base),
                    "stock after each API round: "
                    + " | ".join(str(r.extra.get("sold")) for r in cand),
                    breakdown,
                ],
                data={
                    "candidate": [r.__dict__ for r in cand],
                    "baseline": [r.__dict__ for r in base],
                    "overload": over.__dict__,
                    "gate_limit_per_worker": limit,
                },
            )
        ]


_EXPECTED = {
    "api": {"200", "201", "409", "429"},
    "over": {"200", "201", "409", "429"},
    "orm": {"201", "409"},
}


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def run(ctx: Context) -> list[Result]:
    return P7(ctx).run()


# --------------------------------------------------------------------------- load generator


async def _client(n: int, cfg: dict[str, Any], start: float, stop: float, out: dict) -> None:
    from bench.loadgen import _read_response

    mine = cfg["people"][n :: cfg["clients"]]
    items = cfg["items"]
    reader, writer = await asyncio.open_connection("127.0.0.1", cfg["port"])
    last: tuple[int, str, bytes] | None = None
    sent = 0
    queue = list(mine)
    while True:
        if time.perf_counter() >= stop:
            break
        replay = bool(cfg["replay_every"]) and last is not None and sent % cfg["replay_every"] == 0
        if replay and last is not None:
            person, key, body = last
        else:
            if not queue:
                out["exhausted"] += 1
                break
            person = queue.pop(0)
            key = f"{cfg['tag']}-{person}"
            lines = [
                {"item_id": items["蔬菜包"], "quantity": 1},
                {"item_id": items["鸡蛋"], "quantity": 1 + person % 3},
            ]
            if person % cfg["scarce_every"] == 0:
                lines.append({"item_id": items["大米"], "quantity": 1 + person % 2})
            body = json.dumps({"lines": lines}).encode()
        sent += 1
        while True:  # the same key until it is answered by something other than 429
            head = (
                f"POST {cfg['path']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token_of(person)}\r\nIdempotency-Key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status, payload = await _read_response(reader)
            t1 = time.perf_counter()
            counted = t0 >= start
            out["status_all"][status] += 1
            if counted:
                out["status"][status] += 1
                out["lat"].setdefault(status, []).append(t1 - t0)
            if status in (200, 201):
                oid = json.loads(payload)["id"]
                if status == 201:
                    out["acked"].append((key, oid))
                    if counted:
                        out["ok"] += 1
                else:
                    out["replays"].append((key, oid))
            elif status not in (409, 429) and len(out["samples"]) < 5:
                out["samples"].append(f"{status}: {payload[:300].decode(errors='replace')}")
            if status != 429 or time.perf_counter() >= stop:
                break
            # A polite client: the same key again after the answer's Retry-After (seconds).
            wait = float(json.loads(payload)["error"]["details"]["retry_after"])
            await asyncio.sleep(min(wait, max(0.0, stop - time.perf_counter())))
        if not replay:
            last = (person, key, body)
    writer.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered) / 100) - 1))]


async def _main(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": Counter(),
        "status_all": Counter(),
        "lat": {},
        "ok": 0,
        "acked": [],
        "replays": [],
        "samples": [],
        "exhausted": 0,
    }
    start = time.perf_counter() + float(cfg["warmup"])
    stop = start + float(cfg["seconds"])
    await asyncio.gather(*(_client(n, cfg, start, stop, out) for n in range(cfg["clients"])))
    ok_lat = out["lat"].get(201, [])
    busy = out["lat"].get(429, [])
    return {
        "ok": out["ok"],
        "seconds": float(cfg["seconds"]),
        "status": {str(k): v for k, v in out["status"].items()},
        "status_all": {str(k): v for k, v in out["status_all"].items()},
        "p50": _pct(ok_lat, 50),
        "p99": _pct(ok_lat, 99),
        "busy_p99": _pct(busy, 99),
        "busy_max": max(busy) if busy else 0.0,
        "acked": out["acked"],
        "replays": out["replays"],
        "samples": out["samples"],
        "exhausted": out["exhausted"],
    }


def loadgen() -> None:
    cfg = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps(asyncio.run(_main(cfg))) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["loadgen"]:
        loadgen()
    else:
        sys.exit("usage: python -m bench.p7_intake loadgen  (config on stdin)")
