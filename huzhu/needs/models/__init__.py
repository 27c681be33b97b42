"""The needs app's models: the demand library (types, needs, lines, history), the service
(offers, assignments, ratings) and complaints against a service."""

from huzhu.needs.models.complaints import (
    OPEN_COMPLAINT_STATES,
    Complaint,
    ComplaintCategory,
    ComplaintDecision,
    ComplaintEvent,
    ComplaintLevel,
    ComplaintState,
)
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
    "OPEN_COMPLAINT_STATES",
    "Assignment",
    "AssignmentState",
    "Complaint",
    "ComplaintCategory",
    "ComplaintDecision",
    "ComplaintEvent",
    "ComplaintLevel",
    "ComplaintState",
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
