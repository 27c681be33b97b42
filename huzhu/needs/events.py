"""The needs app's event texts (title, body), rendered in the recipient's language by
``huzhu.notify.render``; registered from ``NeedsConfig.ready``."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "needs.need.rejected": (
        gettext_lazy("需求未通过审核：%(type)s"),
        gettext_lazy("你的需求“%(type)s”（%(starts_at)s）未通过审核。原因：%(reason)s"),
    ),
    "needs.assignment.offered": (
        gettext_lazy("新的服务邀请：%(type)s"),
        gettext_lazy("有一项“%(type)s”需求（%(starts_at)s）邀请你服务，请在 %(due)s 前接单。"),
    ),
    "needs.need.accepted": (
        gettext_lazy("已有志愿者接单：%(type)s"),
        gettext_lazy("志愿者%(volunteer)s已接下你的“%(type)s”需求（%(starts_at)s）。"),
    ),
    "needs.need.cancelled": (
        gettext_lazy("服务已取消：%(type)s"),
        gettext_lazy("“%(type)s”需求（%(starts_at)s）已取消。原因：%(reason)s"),
    ),
    "needs.need.escalated": (
        gettext_lazy("需求超时上报：%(type)s"),
        gettext_lazy("“%(type)s”需求 #%(id)s %(what)s，已超过时限，请跟进处理。"),
    ),
}
