"""The pure matching core of huzhu.needs (DOMAIN.md "The core loop", step 3 *Match*; issue 5
"Matching" and "Batch mode").

No ORM and no database: the queries layer fetches candidates by index and builds
:class:`NeedSpec`/:class:`Candidate`; this package checks the hard constraints
(:mod:`.rules`), scores and explains (:mod:`.score`), ranks, and assigns many needs at once
(:mod:`.batch`). :func:`synthetic` makes deterministic test and benchmark data.
"""

from huzhu.needs.matching.arrays import CandidatePool
from huzhu.needs.matching.batch import (
    DEFAULT_FAIRNESS,
    Assignment,
    LoadSpread,
    Plan,
    Unassigned,
    assign_batch,
    greedy_nearest_first,
)
from huzhu.needs.matching.model import (
    DEFAULT_WEIGHTS,
    Candidate,
    Interval,
    NeedSpec,
    Reason,
    Suggestion,
    Weights,
)
from huzhu.needs.matching.rules import CODES, distance_m, eligible, violations
from huzhu.needs.matching.score import rank, score
from huzhu.needs.matching.synthetic import synthetic

__all__ = [
    "CODES",
    "DEFAULT_FAIRNESS",
    "DEFAULT_WEIGHTS",
    "Assignment",
    "Candidate",
    "CandidatePool",
    "Interval",
    "LoadSpread",
    "NeedSpec",
    "Plan",
    "Reason",
    "Suggestion",
    "Unassigned",
    "Weights",
    "assign_batch",
    "distance_m",
    "eligible",
    "greedy_nearest_first",
    "rank",
    "score",
    "synthetic",
    "violations",
]
