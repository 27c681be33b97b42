"""Benchmark data, seeded once with set-based SQL and reused across runs.

``volunteer_community(size)``: one alliance → one community → buildings (20 floors × 20
households each) → households of 3 people, ``size`` volunteers (one active ``volunteer``
RoleGrant each on the community), one branch head who authors the broadcasts, and a reading
history of ``HISTORY`` earlier broadcasts that every volunteer received and read.

Each dataset lives in its own community (named after its size), so a ``--scale`` run does not
disturb the full-size data. A dataset is written in one transaction: either all of it exists,
with the expected counts, or none. ``--reseed`` drops the benchmark database and starts over.

Personal data is as real as the application's: every volunteer has their own phone number
(``139`` + 8 digits, unique), encrypted by ``huzhu.accounts.pii.encrypt`` (AES-GCM with the
configured key, a fresh nonce each) and indexed by ``pii.phone_index`` (the keyed blind
index), both computed in Python and loaded with COPY; everything else is INSERT … SELECT over
``generate_series`` and the rows just written, with the foreign-key triggers skipped for the
seeding transaction (``session_replication_role = replica``: the ids come from joins, so they
are consistent by construction; unique and check constraints still apply).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

from bench.harness import BenchError, execute, say, vacuum

ALLIANCE = "基准测试联盟"
FLOORS = 20
PER_FLOOR = 20
PER_HOUSEHOLD = 3
HISTORY = 2  # earlier broadcasts, received and read by every volunteer

SEEDED_TABLES = (
    "orgs_building",
    "accounts_household",
    "accounts_person",
    "accounts_rolegrant",
    "notify_broadcast",
    "notify_receipt",
)


@dataclass
class VolunteerCommunity:
    alliance_id: int
    community_id: int
    author_id: int
    size: int
    buildings: int
    households: int
    history_receipts: int
    seeded_seconds: float | None  # None: reused from an earlier run

    @property
    def audience(self) -> dict[str, object]:
        return {"community": self.community_id, "roles": ["volunteer"]}

    def volunteer_ids(self) -> list[int]:
        from huzhu.accounts.models import RoleGrant

        return list(
            RoleGrant.objects.active()
            .filter(community_id=self.community_id, role="volunteer")
            .order_by("person_id")
            .values_list("person_id", flat=True)
        )


class _Steps:
    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.parts: list[str] = []

    def done(self, label: str) -> None:
        now = time.perf_counter()
        self.parts.append(f"{label} {now - self.last:.1f} s")
        self.last = now

    def __str__(self) -> str:
        return ", ".join(self.parts)


def _names(size: int) -> tuple[str, str]:
    return f"基准测试社区 {size}", f"Benchmark community ({size:,} volunteers)"


def volunteer_community(size: int) -> VolunteerCommunity:
    """The dataset of ``size`` volunteers: reused when it exists, seeded otherwise."""
    from huzhu.orgs.models import Community

    name, _name_en = _names(size)
    community = Community.objects.filter(alliance__name=ALLIANCE, name=name).first()
    if community is None:
        start = time.perf_counter()
        data = _seed(size)
        start_vacuum = time.perf_counter()
        vacuum(*SEEDED_TABLES)
        say(f"  VACUUM ANALYZE {time.perf_counter() - start_vacuum:.1f} s")
        data.seeded_seconds = time.perf_counter() - start
        say(
            f"seeded {size:,} volunteers (+ {data.history_receipts:,} read receipts) in "
            f"{data.seeded_seconds:.1f} s"
        )
        return data
    data = _load(community.pk, size)
    say(f"reusing the seeded {size:,} volunteers (community {community.pk}; --reseed to redo)")
    return data


def _load(community_id: int, size: int) -> VolunteerCommunity:
    """Check that an existing dataset is complete; a dataset that is not fails the run."""
    from huzhu.accounts.models import Household, Person, Role, RoleGrant
    from huzhu.notify.models import Broadcast, Receipt
    from huzhu.orgs.models import Building, Community

    community = Community.objects.get(pk=community_id)
    author = RoleGrant.objects.active().filter(community=community, role=Role.BRANCH_HEAD).first()
    volunteers = RoleGrant.objects.active().filter(community=community, role=Role.VOLUNTEER)
    history = Broadcast.objects.filter(community=community, title__startswith="历史广播")
    counts = {
        "people": (Person.objects.filter(community=community).count(), size + 1),
        "volunteer grants": (volunteers.count(), size),
        "history broadcasts": (history.count(), HISTORY),
        "read history receipts": (
            Receipt.objects.filter(broadcast__in=history, read_at__isnull=False).count(),
            size * HISTORY,
        ),
    }
    wrong = {k: v for k, v in counts.items() if v[0] != v[1]}
    if author is None or wrong:
        detail = ", ".join(f"{k}: {got:,} (expected {want:,})" for k, (got, want) in wrong.items())
        raise BenchError(
            f"the benchmark dataset of {size:,} volunteers is incomplete "
            f"({detail or 'no branch head'}); run again with --reseed"
        )
    return VolunteerCommunity(
        alliance_id=community.alliance_id,
        community_id=community.pk,
        author_id=author.person_id,
        size=size,
        buildings=Building.objects.filter(community=community).count(),
        households=Household.objects.filter(community=community).count(),
        history_receipts=size * HISTORY,
        seeded_seconds=None,
    )


def _seed(size: int) -> VolunteerCommunity:
    from django.db import connection, transaction

    from huzhu.accounts import pii
    from huzhu.accounts.models import Person, Role, RoleGrant, ScopeKind
    from huzhu.core import clock
    from huzhu.notify.models import Broadcast, BroadcastStatus
    from huzhu.orgs.models import Alliance, Community

    say(f"seeding {size:,} volunteers (once; reused by later runs)…")
    households_needed = math.ceil(size / PER_HOUSEHOLD)
    n_buildings = math.ceil(households_needed / (FLOORS * PER_FLOOR))
    name, name_en = _names(size)
    steps = _Steps()
    with transaction.atomic():
        # A bulk load: the rows below are consistent by construction (every id comes from a
        # join on the rows just written), so the foreign-key triggers are skipped for this
        # transaction only, as pg_restore does. Unique and check constraints still hold.
        execute("SET LOCAL session_replication_role = replica")
        alliance, _created = Alliance.objects.get_or_create(
            name=ALLIANCE, defaults={"name_en": "Benchmark alliance"}
        )
        community = Community.objects.create(
            alliance=alliance, name=name, name_en=name_en, district="bench"
        )
        cid = community.pk
        execute(
            "INSERT INTO orgs_building (created_at, updated_at, community_id, name, floors) "
            "SELECT now(), now(), %s, b || '号楼', %s FROM generate_series(1, %s) b",
            [cid, FLOORS, n_buildings],
        )
        execute(
            "INSERT INTO accounts_household (created_at, updated_at, community_id, building_id, "
            "room, floor, address_detail) "
            "SELECT now(), now(), %s, b.id, f || lpad(u::text, 2, '0'), f, '' "
            "FROM orgs_building b, generate_series(1, %s) f, generate_series(1, %s) u "
            "WHERE b.community_id = %s ORDER BY b.id, f, u",
            [cid, FLOORS, PER_FLOOR, cid],
        )
        steps.done("buildings + households")

        # Phones: own number, own ciphertext, real blind index, computed here and COPYed.
        offset = execute("SELECT count(*) FROM accounts_person")[0]
        execute(
            "CREATE TEMP TABLE bench_phone (i integer PRIMARY KEY, phone text NOT NULL, "
            "phone_hash varchar(64) NOT NULL) ON COMMIT DROP"
        )
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY bench_phone (i, phone, phone_hash) FROM STDIN") as copy,
        ):
            for i in range(1, size + 1):
                phone = f"139{offset + i:08d}"
                copy.write_row((i, pii.encrypt(phone), pii.phone_index(phone)))
        steps.done("phones encrypted + COPY")
        execute(
            "INSERT INTO accounts_person (password, is_superuser, phone, phone_hash, name, "
            "gender, id_number, emergency_contact, languages, status, preferred_language, "
            "large_text, is_staff, is_active, date_joined, community_id, household_id) "
            "SELECT '!', false, p.phone, p.phone_hash, '志愿者' || p.i, "
            "(ARRAY['F', 'M', 'U'])[1 + p.i %% 3], '', '', '[]'::jsonb, 'active', 'zh-hans', "
            "false, false, true, now(), %s, h.id "
            "FROM bench_phone p JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k "
            "  FROM accounts_household WHERE community_id = %s) h "
            "ON h.k = (p.i - 1) / %s ORDER BY p.i",
            [cid, cid, PER_HOUSEHOLD],
        )
        steps.done("people")
        execute(
            "INSERT INTO accounts_rolegrant (created_at, updated_at, person_id, role, "
            "scope_kind, scope_key, community_id) "
            "SELECT now(), now(), id, %s, %s, %s, %s FROM accounts_person "
            "WHERE community_id = %s ORDER BY id",
            [Role.VOLUNTEER, ScopeKind.COMMUNITY, f"community:{cid}", cid, cid],
        )
        steps.done("grants")

        author = Person.objects.create_user(
            f"137{size:08d}", password=None, name="基准测试分会负责人", community=community
        )
        RoleGrant.objects.create(
            person=author,
            role=Role.BRANCH_HEAD,
            scope_kind=ScopeKind.COMMUNITY,
            community=community,
        )

        audience = {"community": cid, "roles": [Role.VOLUNTEER]}
        for k in range(HISTORY):
            sent = clock.now() - dt.timedelta(days=HISTORY - k)
            broadcast = Broadcast.objects.create(
                alliance=alliance,
                community=community,
                author=author,
                title=f"历史广播 {k + 1}",
                body="基准测试：已读的历史广播",
                audience=audience,
                audience_label=name,
                status=BroadcastStatus.SENT,
                sent_at=sent,
                recipient_count=size,
            )
            execute(
                "INSERT INTO notify_receipt (broadcast_id, person_id, community_id, "
                "building_id, delivered_at, read_at, reply, resend_count) "
                "SELECT %s, p.id, p.community_id, h.building_id, "
                "now() - make_interval(days => %s), "
                "now() - make_interval(days => %s) + interval '1 hour', '', 0 "
                "FROM accounts_person p JOIN accounts_household h ON h.id = p.household_id "
                "WHERE p.community_id = %s ORDER BY p.id",
                [broadcast.pk, HISTORY - k, HISTORY - k, cid],
            )
        steps.done("read history")
        data = _load(cid, size)
    steps.done("commit")
    say(f"  {steps}")
    return data
