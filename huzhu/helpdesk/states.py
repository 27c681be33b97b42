"""The question's life cycle in one table: which action may run in which state.

new → (take) assigned → (answer) answered → (close) closed; reassign returns it to new under
another group; the asker may close (withdraw) it at any time before it is closed; an answered
or closed question may be published as an FAQ.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from huzhu.core.errors import ConflictError
from huzhu.helpdesk.models import QuestionState

Q = QuestionState

TRANSITIONS: dict[str, frozenset[str]] = {
    "take": frozenset({Q.NEW, Q.ASSIGNED}),
    "reassign": frozenset({Q.NEW, Q.ASSIGNED}),
    "answer": frozenset({Q.NEW, Q.ASSIGNED}),
    "escalate": frozenset({Q.NEW, Q.ASSIGNED}),
    "close": frozenset({Q.NEW, Q.ASSIGNED, Q.ANSWERED}),
    "publish": frozenset({Q.ANSWERED, Q.CLOSED}),
}


def allowed(state: str, action: str) -> bool:
    return state in TRANSITIONS[action]


def check(state: str, action: str) -> None:
    """Raise 409 when ``action`` may not run in ``state``."""
    if not allowed(state, action):
        raise ConflictError(
            "helpdesk.question.bad_state",
            _("问题当前状态为“%(state)s”，不能进行此操作。") % {"state": Q(state).label},
            details={"state": state, "action": action},
        )
