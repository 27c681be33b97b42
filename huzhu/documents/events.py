"""Living documents' event texts (title, body), rendered in the recipient's language by
``huzhu.notify.render``; registered from ``DocumentsConfig.ready``."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "documents.suggestion.accepted": (
        gettext_lazy("您的修改建议已被采纳：%(title)s"),
        gettext_lazy("%(actor)s 采纳了您的建议，“%(title)s”已更新为 %(version)s 版。%(note)s"),
    ),
    "documents.suggestion.rejected": (
        gettext_lazy("您的修改建议未被采纳：%(title)s"),
        gettext_lazy("%(actor)s 没有采纳您对“%(title)s”的建议。说明：%(note)s"),
    ),
}
