"""Lockdown operations' event texts (title, body), rendered in the recipient's language by
``huzhu.notify.render``; registered from ``LockdownConfig.ready``."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "lockdown.testing.called": (
        gettext_lazy("请下楼：%(title)s 第 %(batch)s 批"),
        gettext_lazy(
            "%(building)s %(room)s 住户请现在下楼到%(place)s参加%(kind)s（第 %(batch)s 批）。"
            "请佩戴口罩，保持距离，出示住户码签到。"
        ),
    ),
}
