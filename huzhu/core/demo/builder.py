"""The loader: builds the demo alliance from the plans, texts and generated people, in one
transaction, with ``bulk_create``."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from huzhu.accounts import pii
from huzhu.accounts.models import (
    AvailabilitySlot,
    Certificate,
    Gender,
    Household,
    Person,
    PersonSkill,
    Role,
    RoleGrant,
    ScopeKind,
    Skill,
    Status,
)
from huzhu.core import clock
from huzhu.core.demo.logins import _LOGIN, DEMO_PASSWORD, LOGINS, DemoLogin
from huzhu.core.demo.people import _People
from huzhu.core.demo.plans import CommunityPlan, _plans
from huzhu.core.demo.texts import _SKILL_BY_CODE, GROUPS, ROLE_JOBS, SKILLS
from huzhu.orgs.models import Alliance, Building, Community, Group, JobDescription

DEFAULT_SEED = 2022
ALLIANCE_NAME = "普陀互助联盟"
ALLIANCE_NAME_EN = "Putuo Mutual Aid Alliance"
BATCH = 500


def demo_exists() -> bool:
    return Alliance.objects.filter(name=ALLIANCE_NAME).exists()


@dataclass
class DemoResult:
    seed: int
    alliance: Alliance
    communities: list[Community]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    person: Person
    community: Community
    volunteer: bool
    grants: list[tuple[str, Alliance | Community | Building | Group]] = field(default_factory=list)
    skills: list[tuple[str, int]] = field(default_factory=list)
    slots: list[tuple[int, dt.time, dt.time]] = field(default_factory=list)


def _q6(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _grant(person: Person, role: str, node: Alliance | Community | Building | Group) -> RoleGrant:
    """An unsaved grant; bulk_create skips save(), so scope_key is set here."""
    if isinstance(node, Alliance):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.ALLIANCE,
            alliance=node,
            scope_key=f"alliance:{node.pk}",
        )
    if isinstance(node, Community):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.COMMUNITY,
            community=node,
            scope_key=f"community:{node.pk}",
        )
    if isinstance(node, Building):
        return RoleGrant(
            person=person,
            role=role,
            scope_kind=ScopeKind.BUILDING,
            community_id=node.community_id,
            building=node,
            scope_key=f"building:{node.pk}",
        )
    return RoleGrant(
        person=person,
        role=role,
        scope_kind=ScopeKind.GROUP,
        community_id=node.community_id,
        group=node,
        scope_key=f"group:{node.pk}",
    )


class _Loader:
    def __init__(self, seed: int, small: bool) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - deterministic demo data, not security
        self.plans = _plans(small)
        self.now = clock.now()
        self.today = clock.today()
        self.password_hash = make_password(DEMO_PASSWORD)  # one hash for every demo person
        self.gen = _People(
            self.rng,
            set(Person.objects.values_list("phone_hash", flat=True)),
            {h for h in Person.objects.values_list("id_number_hash", flat=True) if h},
        )
        taken = [lg.phone for lg in LOGINS if pii.phone_index(lg.phone) in self.gen.phone_hashes]
        if taken:
            raise ValueError(f"demo login phone numbers already registered: {', '.join(taken)}")
        self.pending: list[_Pending] = []
        self.counts: dict[str, int] = {}

    # -- tree --------------------------------------------------------------------------------

    def skills(self) -> dict[str, Skill]:
        out: dict[str, Skill] = {}
        for spec in SKILLS:
            skill, _created = Skill.objects.update_or_create(
                code=spec.code,
                defaults={
                    "name": spec.name,
                    "name_en": spec.name_en,
                    "category": spec.category,
                    "requires_certificate": spec.requires_certificate,
                },
            )
            out[spec.code] = skill
        return out

    def community(
        self, alliance: Alliance, plan: CommunityPlan
    ) -> tuple[Community, list[Building], dict[int, list[Household]]]:
        community = Community.objects.create(
            alliance=alliance,
            name=plan.name,
            name_en=plan.name_en,
            district=plan.district,
            address=plan.address,
            latitude=_q6(plan.latitude),
            longitude=_q6(plan.longitude),
        )
        cols = 6
        rows = -(-plan.buildings // cols)
        buildings = []
        for n in range(1, plan.buildings + 1):
            row, col = divmod(n - 1, cols)
            lat = plan.latitude + (row - (rows - 1) / 2) * 0.0008
            lng = plan.longitude + (col - (cols - 1) / 2) * 0.0011
            buildings.append(
                Building(
                    community=community,
                    name=f"{n}号楼",
                    floors=plan.floors,
                    latitude=_q6(lat),
                    longitude=_q6(lng),
                )
            )
        buildings = Building.objects.bulk_create(buildings, batch_size=BATCH)
        households: list[Household] = []
        for n, building in enumerate(buildings, start=1):
            for floor in range(1, plan.floors + 1):
                for r in range(1, plan.rooms_per_floor + 1):
                    room = f"{floor}{r:02d}"
                    households.append(
                        Household(
                            community=community,
                            building=building,
                            room=room,
                            floor=floor,
                            address_detail=f"{plan.address} {n} 号 {room} 室",
                        )
                    )
        households = Household.objects.bulk_create(households, batch_size=BATCH)
        by_building: dict[int, list[Household]] = {}
        for h in households:
            by_building.setdefault(h.building_id, []).append(h)
        self._add("buildings", len(buildings))
        self._add("households", len(households))
        return community, buildings, by_building

    def groups(self, community: Community) -> dict[str, Group]:
        out: dict[str, Group] = {}
        for spec in GROUPS:
            parent = out[spec.parent] if spec.parent else None
            out[spec.name] = Group.objects.create(
                community=community,
                parent=parent,
                name=spec.name,
                name_en=spec.name_en,
                description=spec.description,
            )
        jobs = [
            JobDescription(
                community=community,
                group=out[spec.name],
                title=spec.job.title,
                purpose=spec.job.purpose,
                duties=spec.job.duties,
                workflow=spec.job.workflow,
                howto=spec.job.howto,
            )
            for spec in GROUPS
        ]
        jobs += [
            JobDescription(
                community=community,
                role=role,
                title=job.title,
                purpose=job.purpose,
                duties=job.duties,
                workflow=job.workflow,
                howto=job.howto,
            )
            for role, job in ROLE_JOBS
        ]
        JobDescription.objects.bulk_create(jobs)
        self._add("groups", len(out))
        self._add("job descriptions", len(jobs))
        return out

    # -- people ------------------------------------------------------------------------------

    def person(
        self,
        community: Community,
        household: Household | None,
        *,
        volunteer: bool,
        login: DemoLogin | None = None,
        youngest: int = 20,
        oldest: int = 88,
    ) -> _Pending:
        gen = self.gen
        gender = login.gender if login else gen.gender()
        if gender == Gender.UNSPECIFIED:
            gender = Gender.MALE
        birth = gen.birth_date(self.today, youngest, oldest)
        person = Person(
            name=login.name if login else gen.name(gender),
            gender=gender,
            birth_date=birth,
            community=community,
            household=household,
            emergency_contact=gen.emergency_contact(),
            languages=["zh"],
            password=self.password_hash,
            date_joined=self.now - dt.timedelta(days=self.rng.randint(1, 900)),
        )
        person.set_phone(login.phone if login else gen.phone())
        person.set_id_number(gen.id_number(birth, gender))
        if self.rng.random() < 0.35:
            person.languages.append("wuu")
        if self.rng.random() < 0.7:
            person.real_name_verified_at = person.date_joined + dt.timedelta(days=1)
        pending = _Pending(person, community, volunteer)
        pending.grants.append((Role.RESIDENT, community))
        if volunteer:
            pending.grants.append((Role.VOLUNTEER, community))
            self.volunteer_profile(pending, household)
        self.pending.append(pending)
        return pending

    def volunteer_profile(self, pending: _Pending, household: Household | None) -> None:
        rng = self.rng
        codes = [s.code for s in SKILLS]
        weights = [s.weight for s in SKILLS]
        wanted = rng.choice((1, 2, 2, 3, 3, 4))
        chosen: list[str] = []
        while len(chosen) < wanted:
            code = rng.choices(codes, weights)[0]
            if code not in chosen:
                chosen.append(code)
        pending.skills = [(code, rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))) for code in chosen]
        if "foreign_language" in chosen:
            pending.person.languages.append(rng.choice(("en", "en", "ja", "ko", "fr", "de")))
        self.random_slots(pending)
        if household is not None and rng.random() < 0.15:
            building = household.building
            assert building.latitude is not None and building.longitude is not None
            pending.person.latitude = _q6(float(building.latitude) + rng.uniform(-3e-3, 3e-3))
            pending.person.longitude = _q6(float(building.longitude) + rng.uniform(-3e-3, 3e-3))
        roll = rng.random()
        if roll < 0.02:
            pending.person.status = Status.SUSPENDED
            pending.person.status_until = self.now + dt.timedelta(days=rng.randint(1, 7))
        elif roll < 0.03:
            pending.person.status = Status.FROZEN
            pending.person.status_until = self.now + dt.timedelta(days=rng.randint(7, 30))

    def random_slots(self, pending: _Pending) -> None:
        rng = self.rng
        days = sorted(rng.sample(range(7), rng.randint(1, 4)))
        slots = []
        for day in days:
            start = rng.choice((8, 9, 10, 13, 14, 15, 18, 19))
            minutes = rng.choice((0, 30))
            hours = rng.randint(2, 4)
            end = min(start + hours, 22)
            slots.append((day, dt.time(start, minutes), dt.time(end, minutes if end < 22 else 0)))
        pending.slots = slots

    def people(
        self,
        plan: CommunityPlan,
        community: Community,
        buildings: list[Building],
        households: dict[int, list[Household]],
        alliance: Alliance,
        groups: dict[str, Group],
        first: bool,
    ) -> None:
        rng = self.rng
        every = [h for b in buildings for h in households[b.pk]]

        def home_in(building: Building) -> Household:
            return rng.choice(households[building.pk])

        if first:
            b1 = buildings[0]
            logins: dict[str, _Pending] = {}
            for login in LOGINS:
                if login.key == "superuser":
                    continue
                volunteer = login.key in (
                    "volunteer",
                    "building_manager",
                    "group_leader",
                    "group_member",
                )
                home = (
                    home_in(b1)
                    if login.key in ("resident", "building_manager")
                    else (rng.choice(every))
                )
                oldest = 82 if login.key == "resident" else 60
                youngest = 70 if login.key == "resident" else 25
                logins[login.key] = self.person(
                    community,
                    home,
                    volunteer=volunteer,
                    login=login,
                    youngest=youngest,
                    oldest=oldest,
                )
            for p in logins.values():
                p.person.status, p.person.status_until = Status.ACTIVE, None
                p.person.latitude = p.person.longitude = None
            logins["volunteer"].skills = [("shopping", 4), ("clinic_escort", 3), ("computer", 5)]
            logins["volunteer"].slots = [
                (0, dt.time(9), dt.time(12)),
                (2, dt.time(14), dt.time(17)),
                (5, dt.time(9), dt.time(17)),
            ]
            logins["building_manager"].skills = [("repair", 3), ("disinfection", 4)]
            logins["group_leader"].skills = [("shopping", 5), ("cooking", 3)]
            logins["group_member"].skills = [("lifting", 4), ("driving", 3)]
            logins["building_manager"].grants.append((Role.BUILDING_MANAGER, b1))
            logins["group_leader"].grants.append((Role.GROUP_LEADER, groups["团长组"]))
            logins["group_member"].grants.append((Role.GROUP_MEMBER, groups["物流组"]))
            logins["broker"].grants.append((Role.BROKER, community))
            logins["branch_head"].grants.append((Role.BRANCH_HEAD, community))
            logins["finance_officer"].grants.append((Role.FINANCE_OFFICER, community))
            logins["merchant"].grants.append((Role.MERCHANT, community))
            logins["district_admin"].grants.append((Role.DISTRICT_ADMIN, alliance))
            second_merchant = self.person(community, rng.choice(every), volunteer=False)
            second_merchant.grants.append((Role.MERCHANT, community))

        volunteers = [
            self.person(community, rng.choice(every), volunteer=True, youngest=18, oldest=72)
            for _ in range(plan.volunteers)
        ]
        for _ in range(plan.residents):
            self.person(community, rng.choice(every), volunteer=False, youngest=25, oldest=95)

        free = list(volunteers)
        rng.shuffle(free)
        # One building manager per managed building (building 1 of the first community is the
        # printed login), living in that building.
        for number in plan.managed_buildings:
            if first and number == 1:
                continue
            building = buildings[number - 1]
            manager = free.pop()
            manager.person.household = home_in(building)
            manager.person.status, manager.person.status_until = Status.ACTIVE, None
            manager.grants.append((Role.BUILDING_MANAGER, building))
        if not first:
            head = free.pop()
            head.person.status, head.person.status_until = Status.ACTIVE, None
            head.grants.append((Role.BRANCH_HEAD, community))
        # Functional groups: a leader for each, members in the groups without sub-groups.
        parents = {spec.parent for spec in GROUPS if spec.parent}
        for spec in GROUPS if plan.has_groups else ():
            group = groups[spec.name]
            if not (first and spec.name == "团长组"):
                free.pop().grants.append((Role.GROUP_LEADER, group))
            if spec.name in parents:
                continue
            for _ in range(rng.randint(*plan.group_size)):
                if free:
                    free.pop().grants.append((Role.GROUP_MEMBER, group))

    def save_people(self, skills: dict[str, Skill], verifier: Person | None) -> None:
        persons = Person.objects.bulk_create([p.person for p in self.pending], batch_size=BATCH)
        grants = [_grant(p.person, role, node) for p in self.pending for role, node in p.grants]
        RoleGrant.objects.bulk_create(grants, batch_size=BATCH)
        certificates: list[Certificate] = []
        held: list[PersonSkill] = []
        slots: list[AvailabilitySlot] = []
        for p in self.pending:
            for code, level in p.skills:
                spec = _SKILL_BY_CODE[code]
                cert = None
                if spec.requires_certificate:
                    cert = Certificate(
                        person=p.person,
                        community=p.community,
                        skill=skills[code],
                        number=f"{spec.number_prefix}{self.rng.randrange(10**8):08d}",
                        issuer=spec.issuer,
                        valid_until=self.today + dt.timedelta(days=self.rng.randint(200, 1800)),
                        verified_by=verifier,
                        verified_at=self.now,
                    )
                    certificates.append(cert)
                held.append(
                    PersonSkill(
                        person=p.person,
                        community=p.community,
                        skill=skills[code],
                        level=level,
                        certificate=cert,
                    )
                )
            for weekday, start, end in p.slots:
                slots.append(
                    AvailabilitySlot(
                        person=p.person,
                        community=p.community,
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                    )
                )
        Certificate.objects.bulk_create(certificates, batch_size=BATCH)
        PersonSkill.objects.bulk_create(held, batch_size=BATCH)
        AvailabilitySlot.objects.bulk_create(slots, batch_size=BATCH)
        self._add("people", len(persons))
        self._add("volunteers", sum(1 for p in self.pending if p.volunteer))
        self._add("role grants", len(grants))
        self._add("skills held", len(held))
        self._add("certificates", len(certificates))
        self._add("availability slots", len(slots))

    def superuser(self) -> None:
        login = _LOGIN["superuser"]
        admin = Person(
            name=login.name,
            password=self.password_hash,
            is_staff=True,
            is_superuser=True,
            languages=["zh"],
        )
        admin.set_phone(login.phone)
        admin.save()
        self._add("people", 1)

    def timebank(self, community: Community) -> None:
        """The time bank of the first community, through its actions (see demo/timebank.py)."""
        from huzhu.core.demo.timebank import load_timebank

        by_phone = {p.person.phone: p.person for p in self.pending}
        logins = {login.key: by_phone[login.phone] for login in LOGINS if login.phone in by_phone}
        volunteers = [
            p.person
            for p in self.pending
            if p.volunteer and p.community.pk == community.pk and p.person not in logins.values()
        ]
        counts = load_timebank(
            community=community, volunteers=volunteers, logins=logins, rng=self.rng
        )
        for key, n in counts.items():
            self._add(key, n)

    def needs(self) -> None:
        """The need types and the demo resident's needs in each state (see demo/needs.py)."""
        from huzhu.accounts.models import refresh_locations, refresh_match_bits
        from huzhu.core.demo.needs import load_needs

        # Matching reads the denormalised positions and match bits, which bulk inserts do not
        # fill.
        refresh_locations()
        refresh_match_bits()
        by_phone = {p.person.phone: p.person for p in self.pending}
        logins = {login.key: by_phone[login.phone] for login in LOGINS if login.phone in by_phone}
        for key, n in load_needs(logins=logins).items():
            self._add(key, n)

    def lockdown(self, community: Community) -> None:
        """The first community's group buy, testing session and SOPs (see demo/lockdown.py)."""
        from huzhu.core.demo.lockdown import load_lockdown

        by_phone = {p.person.phone: p.person for p in self.pending}
        logins = {login.key: by_phone[login.phone] for login in LOGINS if login.phone in by_phone}
        for key, n in load_lockdown(community=community, logins=logins, rng=self.rng).items():
            self._add(key, n)

    def _add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def run(self) -> DemoResult:
        skills = self.skills()
        self._add("skills", len(skills))
        alliance = Alliance.objects.create(name=ALLIANCE_NAME, name_en=ALLIANCE_NAME_EN)
        communities: list[Community] = []
        for index, plan in enumerate(self.plans):
            community, buildings, households = self.community(alliance, plan)
            groups = self.groups(community) if plan.has_groups else {}
            self.people(plan, community, buildings, households, alliance, groups, first=index == 0)
            communities.append(community)
        verifier = next(
            (p.person for p in self.pending if p.person.phone == _LOGIN["branch_head"].phone), None
        )
        self.save_people(skills, verifier)
        self.superuser()
        self.timebank(communities[0])
        self.needs()
        self.lockdown(communities[0])
        self._add("communities", len(communities))
        return DemoResult(self.seed, alliance, communities, self.counts)


def load(*, seed: int = DEFAULT_SEED, small: bool = False) -> DemoResult:
    """Create the demo alliance in one transaction. Refuses if it already exists."""
    with transaction.atomic():
        if demo_exists():
            raise ValueError(f"the demo alliance {ALLIANCE_NAME} already exists")
        return _Loader(seed, small).run()
