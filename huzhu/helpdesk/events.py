"""The helpdesk's event texts (title, body), rendered in the recipient's language by
``huzhu.notify.render``; registered from ``HelpdeskConfig.ready``."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "helpdesk.question.new": (
        gettext_lazy("新的居民问题（%(group)s）"),
        gettext_lazy("%(building)s的居民提问：%(text)s。请在 %(due)s 前答复。"),
    ),
    "helpdesk.question.answered": (
        gettext_lazy("您的问题已答复"),
        gettext_lazy("您的问题“%(text)s”已由%(group)s答复：%(answer)s"),
    ),
    "helpdesk.question.escalated": (
        gettext_lazy("居民问题超时未答复"),
        gettext_lazy("问题“%(text)s”（%(group)s）已超过答复期限 %(due)s，请尽快处理。"),
    ),
}
