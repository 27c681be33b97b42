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

from huzhu.needs.matching.model import ACTIVE, FEMALE, MALE, Candidate, NeedSpec, Weights
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

    def __len__(self) -> int:
        return len(self.candidates)


def _need_mask(pool: CandidatePool, need: NeedSpec) -> BoolArray:
    """Candidates passing the per-attribute rules (status, load limit, skill, certification,
    gender, strength, language) for ``need``."""
    ok = pool.fine.copy()
    for wanted, vocab, held in (
        (need.skills, pool.skill_vocab, pool.skills),
        (need.certifications, pool.cert_vocab, pool.certs),
    ):
        if wanted:
            if not wanted <= vocab.keys():
                return np.zeros(len(pool), dtype=bool)
            bits = _bits([wanted], vocab)
            ok &= np.all((bits & ~held) == 0, axis=1)
    if need.gender is not None:
        ok &= pool.gender == _GENDER_CODE[need.gender]
    if need.physical_strength:
        ok &= pool.strong
    if need.languages:
        bits = _bits([need.languages], pool.lang_vocab)
        ok &= np.any((bits & pool.langs) != 0, axis=1)
    return ok


#: Up to this many intervals per candidate, windows are checked on padded columns; beyond it
#: by binary search over all intervals (same result, see the tests).
PAD_LIMIT = 16
_NEVER_STARTS = np.iinfo(np.int64).max
_NEVER_ENDS = np.iinfo(np.int64).min


def _widest(flat: IntArray, m: int) -> int:
    return int(np.bincount(flat[:, 0], minlength=m).max()) if len(flat) else 0


def _pad(flat: IntArray, m: int, start_fill: int, end_fill: int) -> tuple[IntArray, IntArray]:
    """``(m, k)`` start and end columns of each candidate's intervals, padded with intervals
    that contain nothing and overlap nothing."""
    counts = np.bincount(flat[:, 0], minlength=m) if len(flat) else np.zeros(m, dtype=np.int64)
    width = int(counts.max()) if m else 0
    starts = np.full((m, width), start_fill, dtype=np.int64)
    ends = np.full((m, width), end_fill, dtype=np.int64)
    if len(flat):
        slot = np.arange(len(flat)) - (np.cumsum(counts) - counts)[flat[:, 0]]
        starts[flat[:, 0], slot] = flat[:, 1]
        ends[flat[:, 0], slot] = flat[:, 2]
    return starts, ends


def _window_fits(pool: CandidatePool, cols: IntArray, ns: IntArray, ne: IntArray) -> BoolArray:
    """For pairs (candidate ``cols``, window ``[ns, ne)``): the window lies inside one
    availability interval and overlaps no booking (rules: availability, double_booking)."""
    if pool.padded is not None:
        av_start, av_end, bk_start, bk_end = pool.padded
        fits = np.zeros(len(cols), dtype=bool)
        for k in range(av_start.shape[1]):
            fits |= (av_start[cols, k] <= ns) & (av_end[cols, k] >= ne)
        for k in range(bk_start.shape[1]):
            fits &= ~((bk_start[cols, k] < ne) & (bk_end[cols, k] > ns))
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
    ascending), ``metres`` is the distance in whole metres and ``cost`` the pair cost
    ``weights.total − score``.
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
        #: overlap[i, k]: needs i and k cannot go to the same volunteer.
        self.overlap: BoolArray = (starts[:, None] < ends[None, :]) & (
            starts[None, :] < ends[:, None]
        )
        self.rows: IntArray = np.zeros(0, dtype=np.int64)
        self.cols: IntArray = np.zeros(0, dtype=np.int64)
        self.metres: IntArray = np.zeros(0, dtype=np.int64)
        self.cost: FloatArray = np.zeros(0, dtype=np.float64)
        if n and m:
            self._build(starts, ends)
        self.row_ptr: IntArray = np.searchsorted(self.rows, np.arange(n + 1)).astype(np.int64)

    def eligible_count(self) -> IntArray:
        return np.bincount(self.rows, minlength=len(self.needs)).astype(np.int64)

    def _build(self, starts: IntArray, ends: IntArray) -> None:
        needs, pool, weights = self.needs, self.pool, self.weights
        m = len(pool)
        # --- per-attribute rules, once per distinct constraint signature --------------------
        by_signature: dict[tuple[object, ...], IntArray] = {}
        part_cols: list[IntArray] = []
        for need in needs:
            key = (
                need.skills,
                need.certifications,
                need.gender,
                need.physical_strength,
                need.languages,
            )
            found = by_signature.get(key)
            if found is None:
                found = np.flatnonzero(_need_mask(pool, need)).astype(np.int64)
                by_signature[key] = found
            part_cols.append(found)
        counts = np.array([len(found) for found in part_cols], dtype=np.int64)
        rows: IntArray = np.repeat(np.arange(len(needs), dtype=np.int64), counts)
        cols: IntArray = np.concatenate(part_cols)

        # --- a cheap distance bound first: the latitude difference alone -------------------
        n_lat = np.array([need.lat for need in needs], dtype=np.float64)
        n_lon = np.array([need.lon for need in needs], dtype=np.float64)
        radius = np.array([need.radius_m for need in needs], dtype=np.int64)
        # A great circle is never shorter than its meridian component; +1 m covers rounding.
        bound = EARTH_RADIUS_M * np.abs(np.radians(pool.lat[cols] - n_lat[rows]))
        near = bound <= radius[rows] + 1
        rows, cols = rows[near], cols[near]

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
        barred = [
            i * m + pool.index[cid]
            for i, need in enumerate(needs)
            for cid in need.declined_by | ({need.requester_id} - {None})
            if cid in pool.index
        ]
        if barred:
            keep &= ~np.isin(rows * m + cols, np.array(barred, dtype=np.int64))
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
        if len(pool.served):
            # (candidate, requester) keys, looked up by binary search
            width = int(max(pool.served[:, 1].max(), n_req.max())) + 2
            served_key = pool.served[:, 0] * width + pool.served[:, 1] + 1
            order = np.argsort(served_key)
            served_key = served_key[order]
            wanted = cols * width + n_req[rows] + 1
            pos = np.minimum(np.searchsorted(served_key, wanted), len(served_key) - 1)
            hit = (served_key[pos] == wanted) & (n_req[rows] >= 0)
            times = np.where(hit, pool.served[order][pos, 2], 0)
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
        self.cost = weights.total - value
