"""The needs app's models: the demand library (types, needs, lines, history) and the service
(offers, assignments, ratings)."""

from huzhu.needs.models.needs import (
    EscalationLevel,
    GenderRequirement,
    LineKind,
    Need,
    NeedEvent,
    NeedLine,
    NeedType,
    Recurrence,
    Urgency,
    to_micro,
)
from huzhu.needs.models.service import Assignment, Offer, Rating
from huzhu.needs.models.tracking import (
    Evidence,
    EvidenceKind,
    SpotCheck,
    SpotCheckMethod,
    SpotCheckResult,
    ThreadMessage,
)
from huzhu.needs.states import AssignmentState, NeedState

__all__ = [
    "Assignment",
    "AssignmentState",
    "EscalationLevel",
    "Evidence",
    "EvidenceKind",
    "GenderRequirement",
    "LineKind",
    "Need",
    "NeedEvent",
    "NeedLine",
    "NeedState",
    "NeedType",
    "Offer",
    "Rating",
    "Recurrence",
    "SpotCheck",
    "SpotCheckMethod",
    "SpotCheckResult",
    "ThreadMessage",
    "Urgency",
    "to_micro",
]
