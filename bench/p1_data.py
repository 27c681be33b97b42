"""P1's city: one alliance of volunteers spread over a ~50 km box around Shanghai, generated
once per database (PostgreSQL and SQLite alike) and reused while its fingerprint matches.

The rows are drawn with numpy from one seed, so both databases hold the same city:

* ``COMMUNITIES`` communities and ``BUILDINGS`` buildings, each at a point of the city
  (70 % around the centre, a normal spread of ~9 km, 30 % anywhere in the box);
* ``size`` volunteers (each with an active ``volunteer`` grant on their community): 80 % live in
  a household of a building (3 to a household) and stand at the building, 15 % have their own
  coordinates, 5 % only a community (they stand at its point);
* genders (50 % F, 45 % M, 5 % unspecified), statuses (97 % active, some suspended or frozen, half
  of those with a past end date), 1 % disabled accounts;
* 1–3 skills each out of ``SKILLS`` (popularity falls with the rank; 8 % can lift), two skills
  that need a certificate, with a certificate for 90 % of their holders (some expired);
* 1–5 weekly availability slots each (a weekday, 2–4 hours between 07:00 and 22:00); 2 % have
  a day off in the benchmark week.

The effective location columns (``loc_lat_e6``, ``loc_lon_e6``, ``loc_cell``) are written with
the rows, computed by the application's own ``to_e6``/``location_cell``; after loading, a sample
is recomputed with ``refresh_locations`` and must not change (else the run fails). The match
bits (``skill_bits``, ``slot_bits``) are computed by ``refresh_match_bits`` once skills and slots
are loaded, and a sample is checked against the rows.

Loading: PostgreSQL by ``COPY`` (foreign-key triggers skipped for the loading transaction, as
``pg_restore`` does), SQLite by ``executemany`` in one transaction; then ``ANALYZE``.
The fingerprint (``VERSION`` and the size) is stored in the community's ``district``; a dataset
with the right fingerprint and counts is reused, one of a version in ``UPGRADES`` is brought up to
date in place (``_upgrade``), anything else is dropped and made again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.harness import BenchError, say, vacuum

VERSION = "p1v4"
#: Older versions that differ only in what ``_upgrade`` adds (p1v3: no match bits).
UPGRADES = ("p1v3",)
ALLIANCE = "P1 基准联盟"
CENTRE = (31.2304, 121.4737)  # People's Square
HALF_LAT = 0.225  # ±25 km north–south
HALF_LON = 0.262  # ±25 km east–west at 31°
SPREAD_KM = 9.0
COMMUNITIES = 200
BUILDINGS = 25_000
PER_HOUSEHOLD = 3
SEED = 20_261_123
#: (code, Chinese name, English name, popularity weight, needs a certificate)
SKILLS: tuple[tuple[str, str, str, float, bool], ...] = (
    ("p1-escort", "陪诊", "Escort to hospital", 10, False),
    ("p1-shopping", "代购", "Shopping", 12, False),
    ("p1-repair", "维修", "Repairs", 6, False),
    ("p1-haircut", "理发", "Haircut", 3, False),
    ("p1-cleaning", "家政", "Housekeeping", 8, False),
    ("p1-chat", "陪伴聊天", "Company", 12, False),
    ("p1-tutor", "辅导", "Tutoring", 5, False),
    ("p1-cooking", "做饭", "Cooking", 6, False),
    ("p1-digital", "手机教学", "Phone help", 7, False),
    ("p1-walk", "陪同散步", "Walks", 9, False),
    ("p1-nurse", "护理", "Nursing", 2, True),
    ("p1-counsel", "心理咨询", "Counselling", 1, True),
)
STRENGTH = ("lifting", "搬运", "Lifting")
TABLES = (
    "orgs_community",
    "orgs_building",
    "accounts_household",
    "accounts_person",
    "accounts_rolegrant",
    "accounts_personskill",
    "accounts_certificate",
    "accounts_availabilityslot",
    "accounts_availabilityexception",
)


@dataclass
class City:
    alliance_id: int
    community_ids: list[int]
    skill_ids: dict[str, int]
    requester_id: int
    size: int
    seeded_seconds: float | None


def _vendor() -> str:
    from django.db import connection

    return str(connection.vendor)


def _community_name(size: int) -> str:
    return f"P1 基准社区 {size}"


def city(size: int) -> City:
    """The dataset of ``size`` volunteers on the default database: reused, or made now."""
    from huzhu.accounts.models import Person
    from huzhu.orgs.models import Community

    fingerprint = f"{VERSION}:{size}"
    first = Community.objects.filter(
        alliance__name=f"{ALLIANCE} {size}", name=f"{_community_name(size)}-0"
    )
    found = first.first()
    if found is not None:
        ok = found.district == fingerprint and (
            Person.objects.filter(community__alliance_id=found.alliance_id).count() == size + 1
        )
        if ok:
            say(f"  reusing the P1 city of {size:,} volunteers ({_vendor()}, {fingerprint})")
            return _load(found.alliance_id, size)
        old = found.district.split(":")
        if old[0] in UPGRADES and old[1:] == [str(size)] and ok_count(found.alliance_id, size):
            _upgrade(found.alliance_id, fingerprint)
            return _load(found.alliance_id, size)
        say(f"  the P1 city on {_vendor()} has another fingerprint or count: making it again")
        _drop(found.alliance_id)
    start = time.perf_counter()
    data = _seed(size)
    data.seeded_seconds = time.perf_counter() - start
    say(f"  made the P1 city of {size:,} volunteers on {_vendor()} in {data.seeded_seconds:.1f} s")
    return data


def _skills() -> dict[str, int]:
    from huzhu.accounts.models import Skill

    out = {}
    for code, name, name_en, _w, cert in SKILLS:
        skill, _ = Skill.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "category": "P1",
                "requires_certificate": cert,
            },
        )
        out[code] = skill.pk
    lifting, _ = Skill.objects.get_or_create(
        code=STRENGTH[0], defaults={"name": STRENGTH[1], "name_en": STRENGTH[2]}
    )
    out[STRENGTH[0]] = lifting.pk
    return out


def ok_count(alliance_id: int, size: int) -> bool:
    from huzhu.accounts.models import Person

    return Person.objects.filter(community__alliance_id=alliance_id).count() == size + 1


def _match_bits(alliance_id: int) -> None:
    """``skill_bits``/``slot_bits`` of the city's people, from their rows (one SQL UPDATE)."""
    from huzhu.accounts.models import Person, refresh_match_bits

    refresh_match_bits(Person.objects.filter(community__alliance_id=alliance_id))


def _upgrade(alliance_id: int, fingerprint: str) -> None:
    """A city of an older version in :data:`UPGRADES`: add what it lacks (the match bits) by
    an UPDATE instead of making it again, check a sample, and give it the new fingerprint."""
    import numpy as np
    from django.db import connection

    from huzhu.accounts.models import Person
    from huzhu.orgs.models import Community

    t0 = time.perf_counter()
    _match_bits(alliance_id)
    if connection.vendor == "postgresql":
        vacuum(*TABLES)
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    pids = np.array(
        Person.objects.filter(community__alliance_id=alliance_id).values_list("pk", flat=True)
    )
    _check_match_bits(pids, np.random.default_rng(SEED))
    Community.objects.filter(alliance_id=alliance_id).update(district=fingerprint)
    say(f"  upgraded the P1 city to {fingerprint} in {time.perf_counter() - t0:.1f} s")


def _check_match_bits(pids: Any, rng: Any) -> None:
    """The stored match bits are what the skill and slot rows say (a sample of 2,000)."""
    from huzhu.accounts.models import (
        AvailabilitySlot,
        Person,
        PersonSkill,
        skill_bit,
        slot_mask,
    )

    sample = [int(p) for p in rng.choice(pids, min(2_000, len(pids)), replace=False)]
    want: dict[int, list[int]] = {pid: [0, 0] for pid in sample}
    for pid, skill_id in PersonSkill.objects.filter(person_id__in=sample).values_list(
        "person_id", "skill_id"
    ):
        want[pid][0] |= skill_bit(skill_id)
    for pid, weekday, start, end in AvailabilitySlot.objects.filter(
        person_id__in=sample
    ).values_list("person_id", "weekday", "start_time", "end_time"):
        want[pid][1] |= slot_mask(weekday, start, end)
    got = {
        pid: [a, b]
        for pid, a, b in Person.objects.filter(pk__in=sample).values_list(
            "pk", "skill_bits", "slot_bits"
        )
    }
    wrong = [(pid, got.get(pid), bits) for pid, bits in want.items() if got.get(pid) != bits]
    if wrong:
        raise BenchError(f"P1: stored match bits differ from the rows: {wrong[:3]}")


def _load(alliance_id: int, size: int) -> City:
    from huzhu.accounts.models import Person
    from huzhu.orgs.models import Community

    ids = list(
        Community.objects.filter(alliance_id=alliance_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    requester = Person.objects.get(phone_hash=f"p1-requester-{size}")
    return City(alliance_id, ids, _skills(), requester.pk, size, None)


def _drop(alliance_id: int) -> None:
    """Remove an old P1 city (another size or version) with plain SQL deletes."""
    from django.db import connection, transaction

    tables = (
        ("accounts_rolegrant", "person_id"),
        ("accounts_personskill", "person_id"),
        ("accounts_certificate", "person_id"),
        ("accounts_availabilityslot", "person_id"),
        ("accounts_availabilityexception", "person_id"),
    )
    people = (
        "SELECT p.id FROM accounts_person p JOIN orgs_community c ON c.id = p.community_id "
        "WHERE c.alliance_id = %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM needs_need WHERE community_id IN "
            "(SELECT id FROM orgs_community WHERE alliance_id = %s)",
            [alliance_id],
        )
        for table, column in tables:
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({people})", [alliance_id])  # noqa: S608
        cursor.execute(f"DELETE FROM accounts_person WHERE id IN ({people})", [alliance_id])  # noqa: S608
        cursor.execute(
            "DELETE FROM accounts_household WHERE community_id IN "
            "(SELECT id FROM orgs_community WHERE alliance_id = %s)",
            [alliance_id],
        )
        cursor.execute(
            "DELETE FROM orgs_building WHERE community_id IN "
            "(SELECT id FROM orgs_community WHERE alliance_id = %s)",
            [alliance_id],
        )
        cursor.execute("DELETE FROM orgs_community WHERE alliance_id = %s", [alliance_id])
        cursor.execute("DELETE FROM orgs_alliance WHERE id = %s", [alliance_id])


def _points(rng: Any, n: int) -> tuple[Any, Any]:
    """``n`` points of the city in degrees: 70 % around the centre, 30 % anywhere."""
    import numpy as np

    km_lat = 1 / 111.2
    km_lon = km_lat / np.cos(np.radians(CENTRE[0]))
    central = rng.random(n) < 0.7
    lat = np.where(
        central,
        CENTRE[0] + rng.normal(0, SPREAD_KM * km_lat, n),
        CENTRE[0] + rng.uniform(-HALF_LAT, HALF_LAT, n),
    )
    lon = np.where(
        central,
        CENTRE[1] + rng.normal(0, SPREAD_KM * km_lon, n),
        CENTRE[1] + rng.uniform(-HALF_LON, HALF_LON, n),
    )
    lat = np.clip(lat, CENTRE[0] - HALF_LAT, CENTRE[0] + HALF_LAT)
    lon = np.clip(lon, CENTRE[1] - HALF_LON, CENTRE[1] + HALF_LON)
    # Whole micro-degrees, as the DecimalField(9, 6) columns hold them.
    return np.round(lat * 1e6).astype(np.int64), np.round(lon * 1e6).astype(np.int64)


def _naive(moment: dt.datetime) -> str:
    """A datetime as Django's SQLite backend stores it (UTC, no offset)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def _dec(e6: int) -> str:
    sign = "-" if e6 < 0 else ""
    e6 = abs(int(e6))
    return f"{sign}{e6 // 1_000_000}.{e6 % 1_000_000:06d}"


class _Loader:
    """Bulk rows into a table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.pg = connection.vendor == "postgresql"

    def rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        with self.connection.cursor() as cursor:
            if self.pg:
                cols = ", ".join(columns)
                with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
            else:
                marks = ", ".join("?" for _ in columns)
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                batch: list[Sequence[Any]] = []
                raw = cursor.cursor  # the sqlite3 cursor: no %s translation per row
                for row in rows:
                    batch.append(row)
                    if len(batch) >= 50_000:
                        raw.executemany(sql, batch)
                        n += len(batch)
                        batch = []
                if batch:
                    raw.executemany(sql, batch)
                    n += len(batch)
        return n


def _seed(size: int) -> City:
    import numpy as np
    from django.db import connection, transaction
    from django.utils import timezone

    from huzhu.accounts.models import Person, location_cell
    from huzhu.orgs.models import Alliance, Community

    say(f"  making the P1 city: {size:,} volunteers on {_vendor()} (once; cached)…")
    rng = np.random.default_rng(SEED)
    now = timezone.now()
    stamp = now if connection.vendor == "postgresql" else _naive(now)
    t = time.perf_counter()
    steps: list[str] = []

    def step(label: str) -> None:
        nonlocal t
        took = time.perf_counter() - t
        steps.append(f"{label} {took:.1f} s")
        t = time.perf_counter()

    load = _Loader()
    skill_ids = _skills()
    with transaction.atomic():
        if load.pg:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        alliance = Alliance.objects.create(
            name=f"{ALLIANCE} {size}", name_en=f"P1 benchmark alliance ({size:,})"
        )
        c_lat, c_lon = _points(rng, COMMUNITIES)
        communities = Community.objects.bulk_create(
            Community(
                alliance=alliance,
                name=f"{_community_name(size)}-{i}",
                name_en=f"P1 community {i}",
                district=f"{VERSION}:{size}",
                latitude=_dec(c_lat[i]),
                longitude=_dec(c_lon[i]),
            )
            for i in range(COMMUNITIES)
        )
        cids = np.array([c.pk for c in communities], dtype=np.int64)
        # Buildings: ids assigned by the database; read them back in order.
        b_lat, b_lon = _points(rng, BUILDINGS)
        b_comm = cids[rng.integers(0, COMMUNITIES, BUILDINGS)]
        load.rows(
            "orgs_building",
            ("created_at", "updated_at", "community_id", "name", "floors", "latitude", "longitude"),
            (
                (stamp, stamp, int(b_comm[i]), f"P1-{i}", 20, _dec(b_lat[i]), _dec(b_lon[i]))
                for i in range(BUILDINGS)
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM orgs_building WHERE community_id IN "
                "(SELECT id FROM orgs_community WHERE alliance_id = %s) ORDER BY id",
                [alliance.pk],
            )
            bids = np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)
        step("communities + buildings")

        # People: kind 0 household, 1 own coordinates, 2 community only.
        kind = rng.choice(3, size, p=[0.80, 0.15, 0.05])
        in_house = np.flatnonzero(kind == 0)
        n_house = -(-len(in_house) // PER_HOUSEHOLD)
        h_building = rng.integers(0, BUILDINGS, n_house)
        load.rows(
            "accounts_household",
            (
                "created_at",
                "updated_at",
                "community_id",
                "building_id",
                "room",
                "floor",
                "address_detail",
            ),
            (
                (stamp, stamp, int(b_comm[h_building[i]]), int(bids[h_building[i]]), f"h{i}", 1, "")
                for i in range(n_house)
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM accounts_household WHERE community_id IN "
                "(SELECT id FROM orgs_community WHERE alliance_id = %s) ORDER BY id",
                [alliance.pk],
            )
            hids = np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)
        step("households")

        house = np.full(size, -1, dtype=np.int64)
        house[in_house] = np.arange(len(in_house)) // PER_HOUSEHOLD
        own_lat, own_lon = _points(rng, size)
        p_comm_idx = rng.integers(0, COMMUNITIES, size)
        gender = rng.choice(np.array(["F", "M", "U"]), size, p=[0.50, 0.45, 0.05])
        status = rng.choice(np.array(["active", "suspended", "frozen"]), size, p=[0.97, 0.02, 0.01])
        ended = rng.random(size) < 0.5
        active_account = rng.random(size) >= 0.01
        past = now - dt.timedelta(days=3)
        future = now + dt.timedelta(days=60)

        def person_rows() -> Iterable[Sequence[Any]]:
            for i in range(size):
                k = kind[i]
                if k == 0:
                    h = house[i]
                    b = h_building[h]
                    hid: int | None = int(hids[h])
                    comm = int(b_comm[b])
                    lat_e6, lon_e6 = int(b_lat[b]), int(b_lon[b])
                    own = (None, None)
                elif k == 1:
                    hid = None
                    comm = int(cids[p_comm_idx[i]])
                    lat_e6, lon_e6 = int(own_lat[i]), int(own_lon[i])
                    own = (_dec(lat_e6), _dec(lon_e6))
                else:
                    hid = None
                    ci = p_comm_idx[i]
                    comm = int(cids[ci])
                    lat_e6, lon_e6 = int(c_lat[ci]), int(c_lon[ci])
                    own = (None, None)
                st = str(status[i])
                until = None if st == "active" else (past if ended[i] else future)
                if until is not None and not load.pg:
                    until = _naive(until)
                yield (
                    "!",
                    False,
                    "",
                    f"p1-{size}-{i}",
                    f"志愿者{i}",
                    str(gender[i]),
                    "",
                    "",
                    "[]",
                    own[0],
                    own[1],
                    st,
                    until,
                    "zh-hans",
                    False,
                    False,
                    bool(active_account[i]),
                    stamp,
                    comm,
                    hid,
                    lat_e6,
                    lon_e6,
                    location_cell(lat_e6, lon_e6),
                    0,  # the match bits: refresh_match_bits below, once skills and slots exist
                    0,
                )

        load.rows(
            "accounts_person",
            (
                "password",
                "is_superuser",
                "phone",
                "phone_hash",
                "name",
                "gender",
                "id_number",
                "emergency_contact",
                "languages",
                "latitude",
                "longitude",
                "status",
                "status_until",
                "preferred_language",
                "large_text",
                "is_staff",
                "is_active",
                "date_joined",
                "community_id",
                "household_id",
                "loc_lat_e6",
                "loc_lon_e6",
                "loc_cell",
                "skill_bits",
                "slot_bits",
            ),
            person_rows(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, community_id FROM accounts_person WHERE phone_hash LIKE %s ORDER BY id",
                [f"p1-{size}-%"],
            )
            fetched = cursor.fetchall()
        if len(fetched) != size:
            raise BenchError(f"P1: loaded {len(fetched):,} people, expected {size:,}")
        pids = np.array([r[0] for r in fetched], dtype=np.int64)
        pcomm = np.array([r[1] for r in fetched], dtype=np.int64)
        step("people")

        load.rows(
            "accounts_rolegrant",
            (
                "created_at",
                "updated_at",
                "person_id",
                "role",
                "scope_kind",
                "community_id",
                "scope_key",
            ),
            (
                (
                    stamp,
                    stamp,
                    int(pids[i]),
                    "volunteer",
                    "community",
                    int(pcomm[i]),
                    f"community:{int(pcomm[i])}",
                )
                for i in range(size)
            ),
        )
        step("grants")

        # Skills: 1–3 distinct ones by popularity, plus lifting for 8 %.
        codes = [s[0] for s in SKILLS]
        weights = np.array([s[3] for s in SKILLS], dtype=float)
        weights /= weights.sum()
        count = rng.integers(1, 4, size)
        picks = np.stack([rng.choice(len(codes), size, p=weights) for _ in range(3)], axis=1)
        lift = rng.random(size) < 0.08
        certified = {i for i, s in enumerate(SKILLS) if s[4]}
        cert_ok = rng.random((size, 3))
        day0 = (now + dt.timedelta(days=1)).date()
        skill_rows: list[tuple[Any, ...]] = []
        cert_rows: list[tuple[Any, ...]] = []
        for i in range(size):
            held = set()
            for j in range(count[i]):
                held.add(int(picks[i, j]))
            pid = int(pids[i])
            for s in held:
                skill_rows.append((stamp, stamp, 1 + (pid % 5), pid, skill_ids[codes[s]]))
                if s in certified and cert_ok[i, 0] < 0.9:
                    valid = day0 + dt.timedelta(days=400 if cert_ok[i, 1] < 0.9 else -30)
                    cert_rows.append(
                        (
                            stamp,
                            stamp,
                            f"C{pid}-{s}",
                            "P1 发证机构",
                            valid if load.pg else valid.isoformat(),
                            pid,
                            skill_ids[codes[s]],
                        )
                    )
            if lift[i]:
                skill_rows.append((stamp, stamp, 3, pid, skill_ids[STRENGTH[0]]))
        load.rows(
            "accounts_personskill",
            ("created_at", "updated_at", "level", "person_id", "skill_id"),
            skill_rows,
        )
        load.rows(
            "accounts_certificate",
            (
                "created_at",
                "updated_at",
                "number",
                "issuer",
                "valid_until",
                "person_id",
                "skill_id",
            ),
            cert_rows,
        )
        n_skills = len(skill_rows)
        del skill_rows, cert_rows
        step(f"{n_skills:,} skills + certificates")

        slots_n = rng.integers(1, 6, size)
        total = int(slots_n.sum())
        owner = np.repeat(pids, slots_n)
        weekday = rng.integers(0, 7, total)
        start_h = rng.integers(7, 19, total)
        length = rng.integers(2, 5, total)
        end_h = np.minimum(start_h + length, 22)

        def times(h: int) -> Any:
            value = dt.time(int(h))
            return value if load.pg else value.isoformat()

        hours = [times(h) for h in range(24)]
        load.rows(
            "accounts_availabilityslot",
            ("created_at", "updated_at", "weekday", "start_time", "end_time", "person_id"),
            (
                (stamp, stamp, int(weekday[k]), hours[start_h[k]], hours[end_h[k]], int(owner[k]))
                for k in range(total)
            ),
        )
        off = np.flatnonzero(rng.random(size) < 0.02)
        off_day = rng.integers(1, 8, len(off))
        load.rows(
            "accounts_availabilityexception",
            ("created_at", "updated_at", "date", "available", "note", "person_id"),
            (
                (
                    stamp,
                    stamp,
                    (now + dt.timedelta(days=int(off_day[k]))).date()
                    if load.pg
                    else (now + dt.timedelta(days=int(off_day[k]))).date().isoformat(),
                    False,
                    "",
                    int(pids[off[k]]),
                )
                for k in range(len(off))
            ),
        )
        step(f"{total:,} slots + {len(off):,} days off")
        _match_bits(alliance.pk)
        step("match bits")

        requester = Person(
            name="P1 服务对象", community=communities[0], phone_hash=f"p1-requester-{size}"
        )
        requester.phone = ""
        requester.set_unusable_password()
        requester.save()
    say("  " + ", ".join(steps))
    t0 = time.perf_counter()
    if load.pg:
        # Fresh statistics and the visibility map (index-only scans), as autovacuum would
        # leave them on a live system.
        vacuum(*TABLES)
        say(f"  VACUUM ANALYZE {time.perf_counter() - t0:.1f} s")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        say(f"  ANALYZE {time.perf_counter() - t0:.1f} s")
    _check_locations(pids, rng)
    _check_match_bits(pids, rng)
    return City(alliance.pk, [int(c) for c in cids], skill_ids, requester.pk, size, None)


def _check_locations(pids: Any, rng: Any) -> None:
    """The stored locations are what ``refresh_locations`` computes (a sample of 2,000)."""
    from django.db import transaction

    from huzhu.accounts.models import Person, refresh_locations

    sample = [int(p) for p in rng.choice(pids, min(2_000, len(pids)), replace=False)]
    fields = ("pk", "loc_lat_e6", "loc_lon_e6", "loc_cell")
    before = sorted(Person.objects.filter(pk__in=sample).values_list(*fields))
    with transaction.atomic():
        refresh_locations(Person.objects.filter(pk__in=sample))
        after = sorted(Person.objects.filter(pk__in=sample).values_list(*fields))
    if before != after:
        wrong = [(b, a) for b, a in zip(before, after, strict=True) if b != a][:3]
        raise BenchError(f"P1: stored locations differ from refresh_locations: {wrong}")
