"""From the database to the pure matching core (DOMAIN.md "The core loop", step 3 *Match*;
issue 5 "Matching").

Three steps, each a function:

* :func:`candidate_queryset` — one indexed query that drops every volunteer the hard constraints
  expressible in SQL rule out: scope, role, status, requester, declined, skills, certificates,
  gender, physical strength, a booking at that time, the load limit, a loose availability test
  (some weekly slot of that weekday overlaps the window, no day off) and a bounding box around
  the need's place. The place is each person's stored position (``Person.loc_lat_e6`` /
  ``loc_lon_e6`` / ``loc_cell``: own, else building, else community coordinates, kept true by
  the accounts models), searched by grid cell on the index ``person_location_cell``. Skills
  and the weekly pattern are tested first on the person's match bits in that index
  (``Person.skill_bits`` / ``slot_bits``, superset tests), so that the per-person lookups run
  only for the few who pass; people with extra hours on the need's date are added by id.
* :func:`nearest_candidates` — the nearest ``POOL_SIZE`` of them, searched in widening circles:
  what :func:`~huzhu.needs.suggest.ranked` scores, so that a need among a million volunteers
  loads the facts of about a hundred.
* :func:`build_candidates` — the facts the core scores on, for the people that query returned, in
  a constant number of queries (no N+1): skills, certificates, availability intervals over the
  need's window, bookings, load, ratings, offer answers, no-shows, times served this requester.
* :func:`need_spec` — the :class:`~huzhu.needs.matching.NeedSpec` of a need.

The core (:func:`huzhu.needs.matching.violations`) checks every rule again; SQL is only the
pre-filter, and it never drops an eligible volunteer (the tests compare both on a varied
population).

Scope: volunteers are alliance-wide. DOMAIN.md says points "are valid across every community of
the alliance", and ``offer_need`` accepts any volunteer of the need's alliance; the distance
radius keeps suggestions local.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Combinable, CombinedExpression
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact, GreaterThan
from django.utils import timezone

from huzhu.accounts.models import (
    CELL_ROW,
    MICRO,
    SKILL_BITS,
    AvailabilityException,
    AvailabilitySlot,
    Certificate,
    Gender,
    Person,
    PersonSkill,
    Role,
    RoleGrant,
    Skill,
    Status,
    cell_column,
    cell_row,
    skill_bit,
    slot_mask,
)
from huzhu.core import clock
from huzhu.needs.matching import Candidate, NeedSpec
from huzhu.needs.matching.model import ACTIVE, FEMALE, FROZEN, MALE, SUSPENDED, Interval
from huzhu.needs.matching.rules import EARTH_RADIUS_M
from huzhu.needs.models import Assignment, AssignmentState, Need, Rating

A = AssignmentState

#: How many accepted, not yet finished services a volunteer may hold at once, when the caller
#: does not pass the community's ``needs.volunteer_load_limit`` (``huzhu.needs.suggest`` does).
DEFAULT_LOAD_LIMIT = 3
#: The window of "recent load" for fairness (DOMAIN.md: spread load), in days.
RECENT_DAYS = 30
#: The skill that stands for "physically strong" (a need's ``needs_strength``): the person model
#: has no field for it, the skill taxonomy has 搬运 ``lifting``.
STRENGTH_SKILL = "lifting"

#: An assignment in these states has an answer (for the accept rate); withdrawn (someone else
#: was faster), cancelled (the need was) and still pending offers do not count.
ANSWERED = (A.ACCEPTED, A.DECLINED, A.EXPIRED, A.COMPLETED, A.NO_SHOW)
#: The volunteer said yes.
ACCEPTED = (A.ACCEPTED, A.COMPLETED, A.NO_SHOW)
#: Services that count as load (accepted and done or still to do).
LOADED = (A.ACCEPTED, A.COMPLETED)

PERSON_FIELDS = (
    "pk",
    "name",
    "gender",
    "status",
    "status_until",
    "languages",
    "loc_lat_e6",
    "loc_lon_e6",
)
#: :func:`nearest_candidates` keeps at most this many volunteers (the nearest) for scoring.
POOL_SIZE = 100
#: :func:`nearest_candidates` looks within this fraction (1/n) of the need's radius first.
FIRST_RING = 8
#: The second circle is this much wider than the density of the first one says.
MARGIN = 1.15
#: Fewer volunteers than this in the first circle say too little about the density: the next
#: circle is then three times as wide.
MIN_SEEN = 8
#: Above this many grid cells the location filter is one cell range per grid row instead of
#: a list of cells.
MAX_CELLS = 400
_GENDER: dict[str, str] = {Gender.FEMALE: FEMALE, Gender.MALE: MALE}
_STATUS: dict[str, str] = {
    Status.ACTIVE: ACTIVE,
    Status.SUSPENDED: SUSPENDED,
    Status.FROZEN: FROZEN,
}


# --- where a need is ---------------------------------------------------------------------------


def need_location(need: Need) -> tuple[float, float] | None:
    """The need's place in degrees: its own point (micro-degrees), else its building's, else its
    household's building; ``None`` when none of them is known (distance is then not scored)."""
    point = need.point()
    if point is not None:
        return (point[0] / 1_000_000, point[1] / 1_000_000)
    for building in (need.building, need.household.building if need.household else None):
        if (
            building is not None
            and building.latitude is not None
            and building.longitude is not None
        ):
            return (float(building.latitude), float(building.longitude))
    return None


def _need_skills(need: Need) -> list[Skill]:
    return list(need.need_type.skills.all())


def _certified_codes(need: Need, skills: Iterable[Skill]) -> frozenset[str]:
    """The skills that must be backed by a certificate: every required one when the need asks
    for a certification, and always those the taxonomy marks as needing one."""
    return frozenset(
        s.code for s in skills if need.certification_required or s.requires_certificate
    )


def need_day(need: Need) -> dt.date:
    """The local date certificates must be valid on: the day the service starts."""
    return timezone.localtime(need.starts_at).date()


@dataclass(frozen=True, slots=True)
class Located:
    """A :class:`NeedSpec` and whether the need's place was known. Without a place the spec
    sits at (0, 0) and every candidate is put there too: all distances are 0, so distance does
    not rank anybody, and the suggestion says so."""

    spec: NeedSpec
    has_location: bool
    #: Skill code → its name in the active language (the core matches on codes; reasons show
    #: names).
    skill_names: Mapping[str, str] = field(default_factory=dict)


def need_spec(need: Need) -> Located:
    """The core's view of ``need`` (two queries: the type's skills, who declined)."""
    skills = _need_skills(need)
    where = need_location(need)
    declined = Assignment.objects.filter(need=need, state=A.DECLINED).values_list(
        "volunteer_id", flat=True
    )
    spec = NeedSpec(
        id=need.pk,
        type_code=need.need_type.code,
        start=need.starts_at,
        end=need.ends_at,
        lat=where[0] if where else 0.0,
        lon=where[1] if where else 0.0,
        radius_m=need.radius_m,
        skills=frozenset(s.code for s in skills),
        certifications=_certified_codes(need, skills),
        gender=_GENDER.get(need.gender),
        physical_strength=need.needs_strength,
        languages=frozenset({need.language}) if need.language else frozenset(),
        requester_id=need.requester_id,
        declined_by=frozenset(declined),
        preferred_volunteer_id=need.preferred_volunteer_id,
    )
    return Located(spec, where is not None, {s.code: str(s) for s in skills})


# --- the SQL pre-filter ----------------------------------------------------------------------


def _location_expr(axis: str) -> Case:
    """A person's position the way :meth:`Person.location` finds it: their own, else their
    building's, else their community's."""
    return Case(
        When(latitude__isnull=False, longitude__isnull=False, then=F(axis)),
        When(
            household__building__latitude__isnull=False,
            then=F(f"household__building__{axis}"),
        ),
        When(community__latitude__isnull=False, then=F(f"community__{axis}")),
        default=Value(None),
    )


def with_location(people: QuerySet[Person]) -> QuerySet[Person]:
    """``loc_lat``/``loc_lon`` computed on the fly from the person, their building and their
    community (what ``Person.loc_lat_e6``/``loc_lon_e6`` store; no index can serve it: the
    benchmark's unindexed baseline)."""
    return people.annotate(loc_lat=_location_expr("latitude"), loc_lon=_location_expr("longitude"))


def box_e6(lat: float, lon: float, radius_m: int) -> tuple[int, int, int, int]:
    """:func:`bounding_box` in integer micro-degrees, rounded outwards."""
    lat_lo, lat_hi, lon_lo, lon_hi = bounding_box(lat, lon, radius_m)
    return (
        math.floor(lat_lo * MICRO),
        math.ceil(lat_hi * MICRO),
        math.floor(lon_lo * MICRO),
        math.ceil(lon_hi * MICRO),
    )


def near(lat: float, lon: float, radius_m: int) -> Q:
    """People whose stored position lies in the bounding box of the circle: the grid cells
    that cover the box (the ``person_location_cell`` index), then the box itself."""
    lat_lo, lat_hi, lon_lo, lon_hi = box_e6(lat, lon, radius_m)
    box = Q(
        loc_lat_e6__gte=lat_lo,
        loc_lat_e6__lte=lat_hi,
        loc_lon_e6__gte=lon_lo,
        loc_lon_e6__lte=lon_hi,
    )
    rows = range(cell_row(max(lat_lo, -90 * MICRO)), cell_row(min(lat_hi, 90 * MICRO)) + 1)
    first = cell_column(max(lon_lo, -180 * MICRO))
    last = cell_column(min(lon_hi, 180 * MICRO))
    if len(rows) * (last - first + 1) <= MAX_CELLS:
        cells = [r * CELL_ROW + c for r in rows for c in range(first, last + 1)]
        return Q(loc_cell__in=cells) & box
    ranges = Q()
    for r in rows:
        ranges |= Q(loc_cell__gte=r * CELL_ROW + first, loc_cell__lte=r * CELL_ROW + last)
    return ranges & box


def distance_proxy(lat: float, lon: float, lat_e6: Any = None, lon_e6: Any = None) -> Any:
    """A number that orders people by their distance from (lat, lon) over a small area: the
    squared offset in micro-degrees, longitude shrunk by cos(latitude) (integer arithmetic).
    ``lat_e6``/``lon_e6``: the position expressions (default: the stored columns)."""
    lat0, lon0 = round(lat * MICRO), round(lon * MICRO)
    shrink = max(1, round(math.cos(math.radians(lat)) * 1024))
    lat_e6 = F("loc_lat_e6") if lat_e6 is None else lat_e6
    lon_e6 = F("loc_lon_e6") if lon_e6 is None else lon_e6
    dlat = Cast(lat_e6 - Value(lat0), BigIntegerField())
    dlon = Cast(lon_e6 - Value(lon0), BigIntegerField()) * Value(shrink) / Value(1024)
    return ExpressionWrapper(dlat * dlat + dlon * dlon, output_field=BigIntegerField())


def bounding_box(
    lat: float, lon: float, radius_m: int
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """A latitude/longitude box that holds every point within ``radius_m`` of (lat, lon) on the
    core's sphere, widened a little so rounding never drops an eligible volunteer."""
    dlat = math.degrees((radius_m + 1) / EARTH_RADIUS_M) * 1.001 + 1e-6
    top = min(90.0, abs(lat) + dlat)
    dlon = 180.0 if top >= 89.9 else min(180.0, dlat / math.cos(math.radians(top)) + 1e-6)
    q = Decimal("0.000001")

    def dec(value: float) -> Decimal:
        return Decimal(repr(value)).quantize(q)

    return (dec(lat - dlat), dec(lat + dlat), dec(lon - dlon), dec(lon + dlon))


def _window_dates(need: Need) -> list[dt.date]:
    start = timezone.localtime(need.starts_at)
    end = timezone.localtime(need.ends_at - dt.timedelta(microseconds=1))
    days = (end.date() - start.date()).days
    return [start.date() + dt.timedelta(days=i) for i in range(days + 1)]


def _availability_filter(need: Need) -> Q | None:
    """A loose test that never drops a volunteer the core finds available: for a window inside
    one local day, some weekly slot of that weekday overlaps it and the day is not taken off, or
    an extra-hours exception that day overlaps it. Longer windows are left to the core.

    The weekly slot is tested first on the person's ``slot_bits`` (the three-hour blocks of the
    window's weekday it overlaps: read from the index, a superset of the slot test), then by the
    slot itself; the (few) people with extra hours that day come in by id."""
    dates = _window_dates(need)
    if len(dates) != 1:
        return None
    day = dates[0]
    start = timezone.localtime(need.starts_at).time()
    end = timezone.localtime(need.ends_at).time()
    if end <= start:  # ends exactly at midnight
        end = dt.time.max
    slot = AvailabilitySlot.objects.filter(
        person=OuterRef("pk"), weekday=day.weekday(), start_time__lt=end, end_time__gt=start
    )
    day_off = AvailabilityException.objects.filter(
        person=OuterRef("pk"), date=day, available=False, start_time__isnull=True
    )
    extra = AvailabilityException.objects.filter(date=day, available=True).filter(
        Q(start_time__isnull=True)
        | Q(end_time__isnull=True)
        | Q(start_time__lt=end, end_time__gt=start)
    )
    weekly: Any = GreaterThan(F("slot_bits").bitand(slot_mask(day.weekday(), start, end)), 0)
    return (Q(weekly) & Q(Exists(slot)) & ~Q(Exists(day_off))) | Q(pk__in=extra.values("person_id"))


class LeftShift(Func):
    """``CAST(a AS BIGINT) << CAST(b AS INTEGER)`` (PostgreSQL and SQLite)."""

    template = "(CAST(%(expressions)s AS INTEGER))"
    arg_joiner = " AS BIGINT) << CAST("
    output_field = BigIntegerField()


def _held(skill: Any) -> Q:
    """``skill`` (a pk, or an expression giving one) is held, given that the person's
    ``skill_bits`` has its bit: true at once (one uncorrelated ``NOT EXISTS``, evaluated once per
    query) when no other skill of the taxonomy shares the bit, else the ``EXISTS`` of the row."""
    residue = Value(skill) if isinstance(skill, int) else skill
    sharing = (
        Skill.objects.alias(residue=F("pk") % Value(SKILL_BITS))
        .filter(residue=residue % Value(SKILL_BITS))
        .exclude(pk=skill)
    )
    return ~Q(Exists(sharing)) | Q(
        Exists(PersonSkill.objects.filter(person=OuterRef("pk"), skill_id=skill))
    )


def active_count() -> Coalesce:
    """The volunteer's accepted, unfinished services (the load limit counts these)."""
    per = (
        Assignment.objects.filter(volunteer=OuterRef("pk"), state=A.ACCEPTED)
        .order_by()
        .values("volunteer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per, output_field=IntegerField()), 0)


def candidate_queryset(
    need: Need,
    *,
    at: dt.datetime | None = None,
    load_limit: int = DEFAULT_LOAD_LIMIT,
    radius_m: int | None = None,
    skills: list[Skill] | None = None,
    placed: bool = True,
) -> QuerySet[Person]:
    """The volunteers who may serve ``need`` as far as SQL can tell (see the module doc).

    Every test is an indexed column comparison or a correlated ``EXISTS`` on an indexed foreign
    key; the loose ones (availability, the bounding box) only ever keep too many, never too few.
    The place: the stored position (``Person.loc_*``) in the grid cells around the need
    (``radius_m``: a smaller circle than the need's, for :func:`nearest_candidates`).
    ``skills``: the need type's skills, when the caller has them already. ``placed=False``:
    without the location filter (nor an order), for a caller that adds it (the same query for
    several circles, built once).
    """
    now = at or clock.now()
    if skills is None:
        skills = _need_skills(need)
    certified = _certified_codes(need, skills)
    day = need_day(need)
    qs = Person.objects.filter(
        is_active=True, community__alliance_id=need.community.alliance_id
    ).filter(Q(status=Status.ACTIVE) | Q(status_until__lte=now))
    qs = qs.filter(
        Exists(
            RoleGrant.objects.filter(
                person=OuterRef("pk"), role=Role.VOLUNTEER, revoked_at__isnull=True
            )
        )
    )
    qs = qs.exclude(pk=need.requester_id)
    qs = qs.exclude(
        Exists(Assignment.objects.filter(need=need, volunteer=OuterRef("pk"), state=A.DECLINED))
    )
    mask = 0
    for skill in skills:
        mask |= skill_bit(skill.pk)
    if mask:
        # Every skill at once, from the index (``Person.skill_bits``; a superset test).
        qs = qs.filter(Exact(F("skill_bits").bitand(mask), mask))
    for skill in skills:
        qs = qs.filter(_held(skill.pk))
        if skill.code in certified:
            qs = qs.filter(
                Exists(
                    Certificate.objects.filter(person=OuterRef("pk"), skill=skill).filter(
                        Q(valid_until__isnull=True) | Q(valid_until__gte=day)
                    )
                )
            )
    if need.gender:
        qs = qs.filter(gender=need.gender)
    if need.needs_strength:
        # The skill's id as a subquery rather than a join on its code: the planner then
        # estimates it as one skill of many and does not start from its (many) holders. No
        # such skill: the bit is NULL and nobody is strong.
        strong = Subquery(Skill.objects.filter(code=STRENGTH_SKILL).values("pk")[:1])
        bit = LeftShift(Value(1), strong % Value(SKILL_BITS))
        both = CombinedExpression(
            F("skill_bits"), Combinable.BITAND, bit, output_field=BigIntegerField()
        )
        qs = qs.filter(Exact(both, bit)).filter(_held(strong))
    qs = qs.exclude(
        Exists(
            Assignment.objects.filter(
                volunteer=OuterRef("pk"),
                state=A.ACCEPTED,
                need__starts_at__lt=need.ends_at,
                need__ends_at__gt=need.starts_at,
            )
        )
    )
    available = _availability_filter(need)
    if available is not None:
        qs = qs.filter(available)
    qs = qs.alias(active_now=active_count()).filter(active_now__lt=load_limit)
    if not placed:
        return qs
    where = need_location(need)
    if where is not None:
        qs = qs.filter(near(where[0], where[1], need.radius_m if radius_m is None else radius_m))
    return qs.order_by("pk")


def nearest_candidates(
    need: Need,
    *,
    pool: int = POOL_SIZE,
    at: dt.datetime | None = None,
    load_limit: int = DEFAULT_LOAD_LIMIT,
) -> list[int]:
    """The ids of at most ``pool`` volunteers of :func:`candidate_queryset`, the nearest first
    (by :func:`distance_proxy`; in id order when the need has no place), plus the need's
    preferred volunteer when the SQL filter keeps them. What :func:`~huzhu.needs.suggest.ranked`
    scores: among many volunteers, the best ``limit`` are among the nearest few hundred, and
    only their facts are loaded.

    The search widens in at most three circles: ``1/FIRST_RING`` of the need's radius; then the
    circle that should hold ``pool`` at the density the first one showed (with a margin); then
    the whole radius. It stops at the first circle that holds ``pool`` of them, so that a need
    in a dense district looks at the people of a few hundred metres, not of its whole radius."""
    now = at or clock.now()
    skills = _need_skills(need)
    where = need_location(need)
    ids: list[int]
    if where is None:
        qs = candidate_queryset(need, at=now, load_limit=load_limit, skills=skills)
        ids = list(qs.values_list("pk", flat=True)[:pool])
    else:
        proxy = distance_proxy(where[0], where[1])
        radius = max(1, need.radius_m // FIRST_RING)
        ids = []
        base = candidate_queryset(
            need, at=now, load_limit=load_limit, skills=skills, placed=False
        ).annotate(proxy=proxy)
        for attempt in range(3):
            qs = base.filter(near(where[0], where[1], radius))
            rows = list(qs.order_by("proxy", "pk").values_list("pk", "proxy")[:pool])
            ids = [pid for pid, _ in rows]
            if radius >= need.radius_m:
                break
            reach = math.degrees(radius / EARTH_RADIUS_M) * MICRO
            inside = sum(1 for _, d in rows if d <= reach * reach)
            if inside >= pool:
                break
            if attempt == 0 and inside >= MIN_SEEN:
                # The circle that should hold ``pool`` at the density seen, and a margin.
                radius = min(need.radius_m, math.ceil(radius * MARGIN * math.sqrt(pool / inside)))
            elif attempt == 0:
                radius = min(need.radius_m, radius * 3)
            else:
                radius = need.radius_m
    preferred = need.preferred_volunteer_id
    if (
        len(ids) >= pool
        and preferred is not None
        and preferred not in ids
        and candidate_queryset(need, at=now, load_limit=load_limit, skills=skills)
        .filter(pk=preferred)
        .exists()
    ):
        ids.append(preferred)
    return ids


# --- the facts the core scores on ------------------------------------------------------------


def _at(day: dt.date, moment: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, moment))


def _day_end(day: dt.date, moment: dt.time) -> dt.datetime:
    """An end time; ``23:59:59.999999`` means midnight (a slot cannot say 24:00)."""
    if moment == dt.time.max:
        return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    return _at(day, moment)


def availability_intervals(
    dates: list[dt.date],
    slots: Iterable[tuple[int, dt.time, dt.time]],
    exceptions: Iterable[tuple[dt.date, bool, dt.time | None, dt.time | None]],
) -> list[Interval]:
    """A person's free intervals over ``dates``: the weekly slots of each weekday, unless an
    exception takes the day off; minus hours taken off; plus extra hours (a whole day when the
    exception gives no times)."""
    by_weekday: dict[int, list[tuple[dt.time, dt.time]]] = defaultdict(list)
    for weekday, slot_start, slot_end in slots:
        by_weekday[weekday].append((slot_start, slot_end))
    by_date: dict[dt.date, list[tuple[bool, dt.time | None, dt.time | None]]] = defaultdict(list)
    for day, available, start, end in exceptions:
        by_date[day].append((available, start, end))
    out: list[Interval] = []
    for day in dates:
        rules = by_date.get(day, [])
        free: list[Interval] = []
        if not any(not ok and (s is None or e is None) for ok, s, e in rules):
            free = [(_at(day, s), _day_end(day, e)) for s, e in by_weekday.get(day.weekday(), [])]
        for ok, s, e in rules:
            if ok or s is None or e is None:
                continue
            away = (_at(day, s), _day_end(day, e))
            free = _subtract(free, away)
        for ok, s, e in rules:
            if not ok:
                continue
            if s is None or e is None:
                free.append((_at(day, dt.time.min), _day_end(day, dt.time.max)))
            elif e > s:
                free.append((_at(day, s), _day_end(day, e)))
        out.extend(free)
    return out


def _subtract(free: list[Interval], away: Interval) -> list[Interval]:
    out: list[Interval] = []
    for start, end in free:
        if away[1] <= start or end <= away[0]:
            out.append((start, end))
            continue
        if start < away[0]:
            out.append((start, away[0]))
        if away[1] < end:
            out.append((away[1], end))
    return out


def _ids(people: Iterable[Person | int] | QuerySet[Person]) -> list[int]:
    if isinstance(people, QuerySet):
        return list(people.values_list("pk", flat=True))
    return [p if isinstance(p, int) else p.pk for p in people]


def build_candidates(
    need: Need,
    people: Iterable[Person | int] | QuerySet[Person],
    *,
    at: dt.datetime | None = None,
    load_limit: int = DEFAULT_LOAD_LIMIT,
    has_location: bool | None = None,
) -> list[Candidate]:
    """:class:`Candidate` objects for ``people`` (a queryset, e.g. :func:`candidate_queryset`, or
    a list of people or of ids, e.g. :func:`nearest_candidates`), in a constant number of
    queries whatever their number.

    A person without any known position is left out when the need has a place (no distance can
    be measured: the distance rule fails); when the need has none, everybody is put at (0, 0).
    """
    now = at or clock.now()
    if has_location is None:
        has_location = need_location(need) is not None
    ids = _ids(people)
    if not ids:
        return []
    skills = _need_skills(need)
    certified = _certified_codes(need, skills)
    skill_ids = {s.pk for s in skills}
    day = need_day(need)

    rows = list(Person.objects.filter(pk__in=ids).order_by("pk").values(*PERSON_FIELDS))

    held: dict[int, set[str]] = defaultdict(set)
    wanted = PersonSkill.objects.filter(person_id__in=ids).filter(
        Q(skill_id__in=skill_ids) | Q(skill__code=STRENGTH_SKILL)
    )
    for pid, code in wanted.values_list("person_id", "skill__code"):
        held[pid].add(code)

    certs: dict[int, set[str]] = defaultdict(set)
    if certified:
        valid = Certificate.objects.filter(person_id__in=ids, skill__code__in=certified).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )
        for pid, code in valid.values_list("person_id", "skill__code"):
            certs[pid].add(code)

    dates = _window_dates(need)
    weekdays = {d.weekday() for d in dates}
    slots: dict[int, list[tuple[int, dt.time, dt.time]]] = defaultdict(list)
    for pid, weekday, slot_start, slot_end in AvailabilitySlot.objects.filter(
        person_id__in=ids, weekday__in=weekdays
    ).values_list("person_id", "weekday", "start_time", "end_time"):
        slots[pid].append((weekday, slot_start, slot_end))
    exceptions: dict[int, list[tuple[dt.date, bool, dt.time | None, dt.time | None]]] = defaultdict(
        list
    )
    for pid, date, available, away_start, away_end in AvailabilityException.objects.filter(
        person_id__in=ids, date__in=dates
    ).values_list("person_id", "date", "available", "start_time", "end_time"):
        exceptions[pid].append((date, available, away_start, away_end))

    bookings: dict[int, list[Interval]] = defaultdict(list)
    for pid, booked_from, booked_until in Assignment.objects.filter(
        volunteer_id__in=ids,
        state=A.ACCEPTED,
        need__starts_at__lt=need.ends_at,
        need__ends_at__gt=need.starts_at,
    ).values_list("volunteer_id", "need__starts_at", "need__ends_at"):
        bookings[pid].append((booked_from, booked_until))

    since = now - dt.timedelta(days=RECENT_DAYS)
    history = {
        row["volunteer_id"]: row
        for row in Assignment.objects.filter(volunteer_id__in=ids)
        .order_by()
        .values("volunteer_id")
        .annotate(
            active=Count("pk", filter=Q(state=A.ACCEPTED)),
            offered=Count("pk", filter=Q(state__in=ANSWERED)),
            accepted=Count("pk", filter=Q(state__in=ACCEPTED)),
            no_shows=Count("pk", filter=Q(state=A.NO_SHOW)),
            recent=Count("pk", filter=Q(state__in=LOADED, need__starts_at__gte=since)),
            served=Count("pk", filter=Q(state=A.COMPLETED, need__requester_id=need.requester_id)),
        )
    }
    ratings = {
        row["volunteer_id"]: row
        for row in Rating.objects.filter(volunteer_id__in=ids)
        .order_by()
        .values("volunteer_id")
        .annotate(total=Sum("stars"), count=Count("pk"))
    }

    out: list[Candidate] = []
    empty: dict[str, Any] = {}
    for row in rows:
        pid = row["pk"]
        if has_location:
            if row["loc_lat_e6"] is None or row["loc_lon_e6"] is None:
                continue
            lat, lon = row["loc_lat_e6"] / MICRO, row["loc_lon_e6"] / MICRO
        else:
            lat, lon = 0.0, 0.0
        status = row["status"]
        until = row["status_until"]
        if status != Status.ACTIVE and until is not None and until <= now:
            status = Status.ACTIVE
        past = history.get(pid, empty)
        rated = ratings.get(pid, empty)
        codes = held.get(pid, set())
        served = int(past.get("served", 0))
        languages = row["languages"] if isinstance(row["languages"], list) else []
        out.append(
            Candidate(
                id=pid,
                name=row["name"],
                lat=lat,
                lon=lon,
                skills=frozenset(codes - ({STRENGTH_SKILL} - {s.code for s in skills})),
                certifications=frozenset(certs.get(pid, ())),
                gender=_GENDER.get(row["gender"]),
                strong=STRENGTH_SKILL in codes,
                languages=frozenset(str(x) for x in languages),
                availability=availability_intervals(
                    dates, slots.get(pid, ()), exceptions.get(pid, ())
                ),
                bookings=bookings.get(pid, ()),
                status=_STATUS[status],
                active_assignments=int(past.get("active", 0)),
                load_limit=load_limit,
                recent_load=int(past.get("recent", 0)),
                rating_sum=int(rated.get("total") or 0),
                rating_count=int(rated.get("count", 0)),
                offered=int(past.get("offered", 0)),
                accepted=int(past.get("accepted", 0)),
                no_shows=int(past.get("no_shows", 0)),
                served_requesters={need.requester_id: served} if served else {},
            )
        )
    return out
