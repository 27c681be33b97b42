"""The time bank ledger dataset of P3 and P4, seeded once with set-based SQL and reused.

``ledger_community(size)``: one community (in the benchmark alliance) with ``size`` people, each
with a person account funded by a proper balanced transaction (a service credit of ``FUND``
hundredths from the community's issuing account, ``bench-fund-<community>-<i>``), so the journal
sums to zero and every cached balance equals the sum of its postings from the start. The first
person's account is the **hot account** of P3 (P3 sets its balance before each round); people
2 … ``P3_PEOPLE + 1`` are P3's other accounts; the rest are P4's.

Checked on reuse: the people, the accounts and the funding transactions must all be there (the
balances move with every run, so they are checked by P3's invariants instead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.data import ALLIANCE
from bench.harness import BenchError, execute, say, vacuum

FUND = 100_000  # hundredths: 1,000 points per person
P3_PEOPLE = 200  # P3's accounts besides the hot one
PHONE_PREFIX = "136"  # P6 uses 139 and 137


@dataclass
class LedgerCommunity:
    community_id: int
    size: int
    issuing_id: int
    person_ids: list[int]  # ordered by id; [0] is the hot account's person
    account_ids: list[int]  # the person accounts, same order
    seeded_seconds: float | None

    @property
    def hot_account(self) -> int:
        return self.account_ids[0]

    @property
    def p3_accounts(self) -> list[int]:
        """The hot account first, then P3's other accounts."""
        return self.account_ids[: P3_PEOPLE + 1]

    @property
    def p4_accounts(self) -> list[int]:
        return self.account_ids[P3_PEOPLE + 1 :]

    @property
    def p4_people(self) -> list[int]:
        return self.person_ids[P3_PEOPLE + 1 :]


def _name(size: int) -> str:
    return f"基准测试积分社区 {size}"


def ledger_community(size: int) -> LedgerCommunity:
    from huzhu.orgs.models import Community

    if size < P3_PEOPLE + 100:
        raise BenchError(f"the ledger dataset needs at least {P3_PEOPLE + 100} people")
    community = Community.objects.filter(alliance__name=ALLIANCE, name=_name(size)).first()
    if community is None:
        start = time.perf_counter()
        data = _seed(size)
        vacuum("accounts_person", "timebank_account", "timebank_transaction", "timebank_posting")
        data.seeded_seconds = time.perf_counter() - start
        say(f"seeded the ledger of {size:,} people in {data.seeded_seconds:.1f} s")
        return data
    data = _load(community.pk, size)
    say(f"reusing the seeded ledger of {size:,} people (community {community.pk})")
    return data


def _load(community_id: int, size: int) -> LedgerCommunity:
    from huzhu.accounts.models import Person
    from huzhu.timebank.models import Account, AccountKind, Transaction

    people = list(
        Person.objects.filter(community_id=community_id).order_by("pk").values_list("pk", flat=True)
    )
    accounts = dict(
        Account.objects.filter(community_id=community_id, kind=AccountKind.PERSON).values_list(
            "person_id", "pk"
        )
    )
    issuing = (
        Account.objects.filter(community_id=community_id, kind=AccountKind.COMMUNITY)
        .values_list("pk", flat=True)
        .first()
    )
    funded = Transaction.objects.filter(
        idempotency_key__startswith=f"bench-fund-{community_id}-"
    ).count()
    counts = {
        "people": (len(people), size),
        "person accounts": (len(accounts), size),
        "funding transactions": (funded, size),
    }
    wrong = {k: v for k, v in counts.items() if v[0] != v[1]}
    if issuing is None or wrong or set(accounts) != set(people):
        detail = ", ".join(f"{k}: {got:,} (expected {want:,})" for k, (got, want) in wrong.items())
        raise BenchError(
            f"the ledger dataset of {size:,} people is incomplete "
            f"({detail or 'accounts do not match people / no issuing account'}); "
            f"run again with --reseed"
        )
    return LedgerCommunity(
        community_id=community_id,
        size=size,
        issuing_id=issuing,
        person_ids=people,
        account_ids=[accounts[p] for p in people],
        seeded_seconds=None,
    )


def _seed(size: int) -> LedgerCommunity:
    from django.db import connection, transaction

    from huzhu.accounts import pii
    from huzhu.orgs.models import Alliance, Community
    from huzhu.timebank.models import Account, AccountKind

    say(f"seeding the ledger of {size:,} people (once; reused by later runs)…")
    with transaction.atomic():
        # Consistent by construction (ids from joins on the rows just written): skip the
        # foreign-key (and append-only) triggers for this transaction, as pg_restore does.
        execute("SET LOCAL session_replication_role = replica")
        alliance, _created = Alliance.objects.get_or_create(
            name=ALLIANCE, defaults={"name_en": "Benchmark alliance"}
        )
        community = Community.objects.create(
            alliance=alliance, name=_name(size), name_en=f"Ledger ({size:,})", district="bench"
        )
        cid = community.pk
        issuing = Account.objects.create(
            kind=AccountKind.COMMUNITY, community=community, name=community.name
        )
        execute(
            "CREATE TEMP TABLE bench_ledger_phone (i integer PRIMARY KEY, phone text NOT NULL, "
            "phone_hash varchar(64) NOT NULL) ON COMMIT DROP"
        )
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY bench_ledger_phone (i, phone, phone_hash) FROM STDIN") as copy,
        ):
            for i in range(1, size + 1):
                phone = f"{PHONE_PREFIX}{cid % 1000:03d}{i:05d}"
                copy.write_row((i, pii.encrypt(phone), pii.phone_index(phone)))
        execute(
            "INSERT INTO accounts_person (password, is_superuser, phone, phone_hash, name, "
            "gender, id_number, emergency_contact, languages, status, preferred_language, "
            "large_text, is_staff, is_active, date_joined, community_id) "
            "SELECT '!', false, p.phone, p.phone_hash, '成员' || p.i, 'U', '', '', "
            "'[]'::jsonb, 'active', 'zh-hans', false, false, true, now(), %s "
            "FROM bench_ledger_phone p ORDER BY p.i",
            [cid],
        )
        execute(
            "INSERT INTO timebank_account (kind, person_id, community_id, code, name, balance, "
            "held, created_at) SELECT 'person', id, %s, '', '', %s, 0, now() "
            "FROM accounts_person WHERE community_id = %s ORDER BY id",
            [cid, FUND, cid],
        )
        execute(
            "INSERT INTO timebank_transaction (kind, memo, community_id, created_at, "
            "idempotency_key, reason, evidence, service_minutes, reference) "
            "SELECT 'service_credit', '基准测试初始积分', %s, now(), "
            "'bench-fund-' || %s || '-' || a.person_id, '', '', 0, '' "
            "FROM timebank_account a WHERE a.community_id = %s AND a.kind = 'person' "
            "ORDER BY a.person_id",
            [cid, cid, cid],
        )
        execute(
            "INSERT INTO timebank_posting (transaction_id, account_id, amount, community_id) "
            "SELECT t.id, x.account_id, x.amount, %s FROM timebank_transaction t "
            "JOIN timebank_account a ON t.idempotency_key = 'bench-fund-' || %s || '-' || "
            "a.person_id AND a.community_id = %s AND a.kind = 'person' "
            "CROSS JOIN LATERAL (VALUES (%s::bigint, -%s::bigint), (a.id, %s::bigint)) "
            "AS x(account_id, amount) ORDER BY t.id",
            [cid, cid, cid, issuing.pk, FUND, FUND],
        )
        execute(
            "UPDATE timebank_account SET balance = %s WHERE id = %s",
            [-FUND * size, issuing.pk],
        )
        data = _load(cid, size)
    return data
