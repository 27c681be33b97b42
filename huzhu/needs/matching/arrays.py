"""The hard constraints and the pair cost on arrays, for batch assignment (issue 5 "Batch mode",
ARCHITECTURE.md P2).

Same rules as :func:`huzhu.needs.matching.rules.violations` and the same formulas, in the same
order of operations, as :mod:`huzhu.needs.matching.score`: a pair's cost here equals the
``Suggestion.cost`` of the scalar path (the tests check both against each other).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from huzhu.needs.matching.model import (
    ACTIVE,
    COMPONENTS,
    FEMALE,
    MALE,
    Candidate,
    NeedSpec,
    Weights,
)
from huzhu.needs.matching.rules import EARTH_RADIUS_M

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
BitArray = npt.NDArray[np.uint64]

_GENDER_CODE = {None: 0, FEMALE: 1, MALE: 2}
_WORD = (1 << 64) - 1


def _bits(items: Sequence[frozenset[str]], vocab: dict[str, int]) -> BitArray:
    words = max(1, (len(vocab) + 63) // 64)
    cache: dict[frozenset[str], list[int]] = {}
    rows: list[list[int]] = []
    for values in items:
        row = cache.get(values)
        if row is None:
            mask = 0
            for value in values:
                index = vocab.get(value)
                if index is not None:
                    mask |= 1 << index
            row = [(mask >> (64 * word)) & _WORD for word in range(words)]
            cache[values] = row
        rows.append(row)
    return np.array(rows, dtype=np.uint64).reshape(len(items), words)


def _flatten(per_candidate: list[tuple[int, ...]]) -> IntArray:
    """Rows ``(candidate index, start, end)`` from each candidate's flattened intervals."""
    lengths = np.array([len(flat) // 2 for flat in per_candidate], dtype=np.int64)
    times = np.fromiter(
        (moment for flat in per_candidate for moment in flat),
        dtype=np.int64,
        count=2 * int(lengths.sum()),
    ).reshape(-1, 2)
    owners = np.repeat(np.arange(len(per_candidate), dtype=np.int64), lengths)
    return np.column_stack((owners, times)).astype(np.int64).reshape(-1, 3)


def _vocab(sets: Sequence[frozenset[str]]) -> dict[str, int]:
    return {value: index for index, value in enumerate(sorted(set().union(*sets)))}


class CandidatePool:
    """The candidate side as columns, built once and reusable for many batches (the queries
    layer may keep one per community for a lockdown morning). Candidates are sorted by id, so
    the first of equal minima is always the lowest id."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        cands = sorted(candidates, key=lambda cand: cand.id)
        ids = [cand.id for cand in cands]
        if len(set(ids)) != len(ids):
            raise ValueError("candidate ids must be unique")
        self.candidates = cands
        self.index = {cid: j for j, cid in enumerate(ids)}
        self.ids: IntArray = np.array(ids, dtype=np.int64)
        self.fine: BoolArray = np.array(
            [c.status == ACTIVE and c.active_assignments < c.load_limit for c in cands],
            dtype=bool,
        )
        self.capacity: IntArray = np.array([c.capacity for c in cands], dtype=np.int64)
        self.active: IntArray = np.array([c.active_assignments for c in cands], dtype=np.int64)
        self.skill_vocab = _vocab([c.skills for c in cands])
        self.cert_vocab = _vocab([c.certifications for c in cands])
        self.lang_vocab = _vocab([c.languages for c in cands])
        self.skills = _bits([c.skills for c in cands], self.skill_vocab)
        self.certs = _bits([c.certifications for c in cands], self.cert_vocab)
        self.langs = _bits([c.languages for c in cands], self.lang_vocab)
        self.gender: IntArray = np.array([_GENDER_CODE[c.gender] for c in cands], dtype=np.int64)
        self.strong: BoolArray = np.array([c.strong for c in cands], dtype=bool)
        self.lat: FloatArray = np.array([c.lat for c in cands], dtype=np.float64)
        self.lon: FloatArray = np.array([c.lon for c in cands], dtype=np.float64)
        self.availability = _flatten([c.availability_us for c in cands])
        self.bookings = _flatten([c.bookings_us for c in cands])
        self.padded: tuple[IntArray, IntArray, IntArray, IntArray] | None = None
        widest = max(_widest(self.availability, len(cands)), _widest(self.bookings, len(cands)))
        if widest <= PAD_LIMIT:
            # the common case: few intervals each, checked column by column (no search)
            self.padded = (
                *_pad(self.availability, len(cands), _NEVER_STARTS, _NEVER_ENDS),
                *_pad(self.bookings, len(cands), _NEVER_STARTS, _NEVER_ENDS),
            )
        self.rating_sum: IntArray = np.array([c.rating_sum for c in cands], dtype=np.int64)
        self.rating_count: IntArray = np.array([c.rating_count for c in cands], dtype=np.int64)
        self.offered: IntArray = np.array([c.offered for c in cands], dtype=np.int64)
        self.accepted: IntArray = np.array([c.accepted for c in cands], dtype=np.int64)
        self.no_shows: IntArray = np.array([c.no_shows for c in cands], dtype=np.int64)
        self.recent_load: IntArray = np.array([c.recent_load for c in cands], dtype=np.int64)
        served = [
            (j, rid, times)
            for j, c in enumerate(cands)
            for rid, times in c.served_requesters.items()
        ]
        self.served: IntArray = np.array(served, dtype=np.int64).reshape(-1, 3)
        # (candidate, requester) keys of ``served``, sorted, for lookups by binary search
        real = self.served[self.served[:, 1] >= 0]
        self.served_width = int(real[:, 1].max()) + 2 if len(real) else 1
        keys = real[:, 0] * self.served_width + real[:, 1] + 1
        order = np.argsort(keys, kind="stable")
        self.served_key: IntArray = keys[order]
        self.served_times: IntArray = real[order, 2]
        # The per-attribute rules work on columns in latitude order, so that the candidates
        # of a need's latitude band are one slice (see PairTable._candidate_pairs).
        self.by_lat: IntArray = np.argsort(self.lat, kind="stable").astype(np.int64)
        self.lat_sorted: FloatArray = self.lat[self.by_lat]
        self.fine_by_lat: BoolArray = self.fine[self.by_lat]
        self.gender_by_lat: IntArray = self.gender[self.by_lat]
        self.strong_by_lat: BoolArray = self.strong[self.by_lat]
        self.skill_by_lat = _columns(self.skills, self.skill_vocab, self.by_lat)
        self.cert_by_lat = _columns(self.certs, self.cert_vocab, self.by_lat)
        self.lang_by_lat = _columns(self.langs, self.lang_vocab, self.by_lat)

    def __len__(self) -> int:
        return len(self.candidates)


def _columns(bits: BitArray, vocab: dict[str, int], order: IntArray) -> dict[str, BoolArray]:
    """For each value of ``vocab``: which candidates (in ``order``) hold it."""
    held = bits[order]
    return {
        value: ((held[:, index // 64] >> np.uint64(index % 64)) & np.uint64(1)).astype(bool)
        for value, index in vocab.items()
    }


def _signature_mask(pool: CandidatePool, need: NeedSpec) -> BoolArray:
    """Candidates, in latitude order (``pool.by_lat``), passing the per-attribute rules
    (status, load limit, skill, certification, gender, strength, language) for ``need``."""
    ok = pool.fine_by_lat.copy()
    for wanted, columns in (
        (need.skills, pool.skill_by_lat),
        (need.certifications, pool.cert_by_lat),
    ):
        for value in wanted:
            held = columns.get(value)
            if held is None:
                return np.zeros(len(pool), dtype=bool)
            ok &= held
    if need.gender is not None:
        ok &= pool.gender_by_lat == _GENDER_CODE[need.gender]
    if need.physical_strength:
        ok &= pool.strong_by_lat
    if need.languages:
        speaks = np.zeros(len(pool), dtype=bool)
        for value in need.languages:
            held = pool.lang_by_lat.get(value)
            if held is not None:
                speaks |= held
        ok &= speaks
    return ok


#: Up to this many intervals per candidate, windows are checked on padded columns; beyond it
#: by binary search over all intervals (same result, see the tests).
PAD_LIMIT = 16
_NEVER_STARTS = np.iinfo(np.int64).max
_NEVER_ENDS = np.iinfo(np.int64).min


def _widest(flat: IntArray, m: int) -> int:
    return int(np.bincount(flat[:, 0], minlength=m).max()) if len(flat) else 0


def _pad(flat: IntArray, m: int, start_fill: int, end_fill: int) -> tuple[IntArray, IntArray]:
    """``(k, m)`` start and end rows: row ``k`` holds each candidate's ``k``-th interval (one
    contiguous row per ``k``, so a row is gathered quickly), padded with intervals that contain
    nothing and overlap nothing."""
    counts = np.bincount(flat[:, 0], minlength=m) if len(flat) else np.zeros(m, dtype=np.int64)
    width = int(counts.max()) if m else 0
    starts = np.full((width, m), start_fill, dtype=np.int64)
    ends = np.full((width, m), end_fill, dtype=np.int64)
    if len(flat):
        slot = np.arange(len(flat)) - (np.cumsum(counts) - counts)[flat[:, 0]]
        starts[slot, flat[:, 0]] = flat[:, 1]
        ends[slot, flat[:, 0]] = flat[:, 2]
    return starts, ends


def _window_fits(pool: CandidatePool, cols: IntArray, ns: IntArray, ne: IntArray) -> BoolArray:
    """For pairs (candidate ``cols``, window ``[ns, ne)``): the window lies inside one
    availability interval and overlaps no booking (rules: availability, double_booking)."""
    if pool.padded is not None:
        av_start, av_end, bk_start, bk_end = pool.padded
        fits = np.zeros(len(cols), dtype=bool)
        for k in range(len(av_start)):
            fits |= (av_start[k].take(cols) <= ns) & (av_end[k].take(cols) >= ne)
        if len(bk_start):
            # bookings only matter where the window is available (the fewer pairs)
            at = np.flatnonzero(fits)
            at_cols, at_ns, at_ne = cols[at], ns[at], ne[at]
            busy = np.zeros(len(at), dtype=bool)
            for k in range(len(bk_start)):
                busy |= (bk_start[k].take(at_cols) < at_ne) & (bk_end[k].take(at_cols) > at_ns)
            fits[at[busy]] = False
        return fits
    return _window_fits_by_search(pool, cols, ns, ne)


def _window_fits_by_search(
    pool: CandidatePool, cols: IntArray, ns_us: IntArray, ne_us: IntArray
) -> BoolArray:
    """The same check by binary search over (candidate, time) keys, for candidates with many
    intervals. Times become ranks among all time points, so keys are exact and cannot overflow."""
    av_arr, bk_arr = pool.availability, pool.bookings
    points = np.unique(np.concatenate([ns_us, ne_us, av_arr[:, 1:].ravel(), bk_arr[:, 1:].ravel()]))
    span = len(points) + 1

    def rank(moments: IntArray) -> IntArray:
        return np.searchsorted(points, moments).astype(np.int64)

    ns, ne = rank(ns_us), rank(ne_us)
    fits = np.zeros(len(cols), dtype=bool)
    if len(av_arr):
        # merged intervals: the last one starting at or before the window start must reach its end
        av_key = av_arr[:, 0] * span + rank(av_arr[:, 1])
        av_end = rank(av_arr[:, 2])
        pos = np.searchsorted(av_key, cols * span + ns, side="right") - 1
        safe = np.maximum(pos, 0)
        fits = (pos >= 0) & (av_arr[safe, 0] == cols) & (av_end[safe] >= ne)
    if len(bk_arr):
        # merged bookings: the last one starting before the window end must end by its start
        bk_key = bk_arr[:, 0] * span + rank(bk_arr[:, 1])
        bk_end = rank(bk_arr[:, 2])
        pos = np.searchsorted(bk_key, cols * span + ne, side="left") - 1
        safe = np.maximum(pos, 0)
        fits &= ~((pos >= 0) & (bk_arr[safe, 0] == cols) & (bk_end[safe] > ns))
    return fits


class PairTable:
    """Every eligible (need, candidate) pair with its distance and cost.

    ``needs`` keep their order. ``rows``/``cols`` index the pairs (rows ascending, then columns
    ascending), ``metres`` is the distance in whole metres, ``score`` the pair's score and
    ``cost`` its cost ``weights.total − score``. The other facts the score was computed from are
    kept per pair for the reasons (``smoothed`` rating, ``times`` served the requester,
    ``preferred`` and the five normalised ``components``), so a pair is explained without
    being scored again.
    """

    def __init__(
        self,
        needs: Sequence[NeedSpec],
        candidates: Sequence[Candidate] | CandidatePool,
        weights: Weights,
    ) -> None:
        self.needs = list(needs)
        if len({need.id for need in self.needs}) != len(self.needs):
            raise ValueError("need ids must be unique")
        pool = candidates if isinstance(candidates, CandidatePool) else CandidatePool(candidates)
        self.pool = pool
        self.candidates = pool.candidates
        self.weights = weights
        self.capacity = pool.capacity
        self.active = pool.active
        n, m = len(self.needs), len(pool)
        window = np.array([need.window_us for need in self.needs], dtype=np.int64).reshape(-1, 2)
        starts, ends = window[:, 0], window[:, 1]
        self.starts: IntArray = starts
        self.ends: IntArray = ends
        #: overlap[i, k]: needs i and k cannot go to the same volunteer.
        self.overlap: BoolArray = (starts[:, None] < ends[None, :]) & (
            starts[None, :] < ends[:, None]
        )
        empty_f: FloatArray = np.zeros(0, dtype=np.float64)
        self.rows: IntArray = np.zeros(0, dtype=np.int64)
        self.cols: IntArray = np.zeros(0, dtype=np.int64)
        self.metres: IntArray = np.zeros(0, dtype=np.int64)
        self.cost: FloatArray = empty_f
        self.score: FloatArray = empty_f
        self.smoothed: FloatArray = empty_f
        self.times: IntArray = np.zeros(0, dtype=np.int64)
        self.preferred: BoolArray = np.zeros(0, dtype=bool)
        self.components: dict[str, FloatArray] = {name: empty_f for name in COMPONENTS}
        if n and m:
            self._build(starts, ends)
        self.row_ptr: IntArray = np.searchsorted(self.rows, np.arange(n + 1)).astype(np.int64)

    def eligible_count(self) -> IntArray:
        return np.bincount(self.rows, minlength=len(self.needs)).astype(np.int64)

    def pair_index(self, rows: IntArray, cols: IntArray) -> IntArray:
        """Positions of the pairs ``(rows, cols)`` (which must be in the table)."""
        m = len(self.candidates)
        return np.searchsorted(self.rows * m + self.cols, rows * m + cols).astype(np.int64)

    def _candidate_pairs(self, n_lat: FloatArray, radius: IntArray) -> tuple[IntArray, IntArray]:
        """Pairs passing the per-attribute rules whose latitudes differ by at most the need's
        radius (+2 m, well above rounding): a great circle is never shorter than its meridian
        component, so this drops no pair within the radius. Needs with the same constraints
        share one mask over the candidates in latitude order; a need's band is a slice of it.
        Returns ``(rows, columns)``, rows ascending (columns in latitude order)."""
        pool = self.pool
        groups: dict[tuple[object, ...], list[int]] = {}
        for i, need in enumerate(self.needs):
            signature = (
                need.skills,
                need.certifications,
                need.gender,
                need.physical_strength,
                need.languages,
            )
            groups.setdefault(signature, []).append(i)
        # each need's band as a slice [lo, hi) of all candidates in latitude order
        half_band = np.degrees((radius + 2) / EARTH_RADIUS_M)
        lo = np.searchsorted(pool.lat_sorted, n_lat - half_band, side="left")
        hi = np.searchsorted(pool.lat_sorted, n_lat + half_band, side="right")
        # the group's candidates as keys group · m + position, ascending over all groups
        m = len(pool)
        group_of = np.zeros(len(self.needs), dtype=np.int64)
        keys: list[IntArray] = []
        for g, members in enumerate(groups.values()):
            group_of[members] = g
            keys.append(np.flatnonzero(_signature_mask(pool, self.needs[members[0]])) + g * m)
        key = np.concatenate(keys)
        first = np.searchsorted(key, group_of * m + lo, side="left")
        last = np.searchsorted(key, group_of * m + hi, side="left")
        counts = last - first
        # the slices first[i]:last[i] of ``key`` laid end to end
        total = int(counts.sum())
        offset = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
        rows = np.repeat(np.arange(len(self.needs), dtype=np.int64), counts)
        return rows, pool.by_lat[key[offset] % m]

    def _build(self, starts: IntArray, ends: IntArray) -> None:
        needs, pool, weights = self.needs, self.pool, self.weights
        m = len(pool)
        n_lat = np.array([need.lat for need in needs], dtype=np.float64)
        n_lon = np.array([need.lon for need in needs], dtype=np.float64)
        radius = np.array([need.radius_m for need in needs], dtype=np.int64)

        # --- per-attribute rules and the latitude band --------------------------------------
        rows, cols = self._candidate_pairs(n_lat, radius)

        # --- availability and bookings ----------------------------------------------------
        fits = _window_fits(pool, cols, starts[rows], ends[rows])
        rows, cols = rows[fits], cols[fits]

        # --- distance on the surviving pairs (same formula as rules.haversine_m) -------------
        p1 = np.radians(n_lat[rows])
        p2 = np.radians(pool.lat[cols])
        dp = p2 - p1
        dl = np.radians(pool.lon[cols] - n_lon[rows])
        h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, h)))
        metres: IntArray = np.rint(dist).astype(np.int64)
        keep = metres <= radius[rows]

        # --- requester and declined, on the few pairs left ---------------------------------
        index = pool.index
        barred: list[int] = []
        for i, need in enumerate(needs):
            if need.requester_id is not None and (j := index.get(need.requester_id)) is not None:
                barred.append(i * m + j)
            for cid in need.declined_by:  # a duplicate of the requester is dropped twice: harmless
                if (j := index.get(cid)) is not None:
                    barred.append(i * m + j)
        rows, cols, metres = rows[keep], cols[keep], metres[keep]
        pair_key = rows * m + cols
        order = np.argsort(pair_key, kind="stable")
        rows, cols, metres, pair_key = rows[order], cols[order], metres[order], pair_key[order]
        if barred and len(rows):
            wanted = np.array(barred, dtype=np.int64)
            pos = np.minimum(np.searchsorted(pair_key, wanted), len(pair_key) - 1)
            drop = pos[pair_key[pos] == wanted]
            if len(drop):
                keep = np.ones(len(rows), dtype=bool)
                keep[drop] = False
                rows, cols, metres = rows[keep], cols[keep], metres[keep]

        # --- the pair cost (same formulas and order as score.py) -------------------------------
        n_req = np.array(
            [-1 if need.requester_id is None else need.requester_id for need in needs],
            dtype=np.int64,
        )
        n_pref = np.array(
            [
                -1 if need.preferred_volunteer_id is None else need.preferred_volunteer_id
                for need in needs
            ],
            dtype=np.int64,
        )
        times = np.zeros(len(rows), dtype=np.int64)
        if len(pool.served_key) and len(rows):
            # (candidate, requester) keys, looked up by binary search
            req = n_req[rows]
            known = (req >= 0) & (req + 2 <= pool.served_width)
            wanted = cols * pool.served_width + np.where(known, req, -1) + 1
            pos = np.minimum(np.searchsorted(pool.served_key, wanted), len(pool.served_key) - 1)
            hit = (pool.served_key[pos] == wanted) & known
            times = np.where(hit, pool.served_times[pos], 0)
        rad = radius[rows]
        distance = np.where(
            rad > 0,
            np.maximum(0.0, 1.0 - metres / np.maximum(rad, 1)),
            np.where(metres <= 0, 1.0, 0.0),
        )
        prior = weights.rating_prior_mean * weights.rating_prior_weight
        smoothed = (prior + pool.rating_sum[cols]) / (
            weights.rating_prior_weight + pool.rating_count[cols]
        )
        rating = np.minimum(1.0, np.maximum(0.0, (smoothed - 1.0) / 4.0))
        accepted = pool.accepted[cols]
        a_prior = weights.accept_prior_rate * weights.accept_prior_weight
        rate = (accepted + a_prior) / (pool.offered[cols] + weights.accept_prior_weight)
        miss = np.minimum(1.0, pool.no_shows[cols] / (accepted + weights.accept_prior_weight))
        reliability = np.minimum(1.0, np.maximum(0.0, rate * (1.0 - miss)))
        fairness = 1.0 / (1.0 + pool.recent_load[cols] / weights.fairness_scale)
        preferred = n_pref[rows] == pool.ids[cols]
        sat = weights.continuity_saturation
        continuity = np.where(preferred, 1.0, np.minimum(times, sat) / sat)
        value = (
            weights.distance * distance
            + weights.rating * rating
            + weights.reliability * reliability
            + weights.fairness * fairness
            + weights.continuity * continuity
        )
        self.rows, self.cols, self.metres = rows, cols, metres
        self.score = value
        self.cost = weights.total - value
        self.smoothed, self.times, self.preferred = smoothed, times, preferred
        self.components = {
            "distance": distance,
            "rating": rating,
            "reliability": reliability,
            "fairness": fairness,
            "continuity": continuity,
        }
