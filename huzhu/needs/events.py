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
    # Complaints against a service (huzhu.needs.actions.complaints).
    "needs.complaint.filed": (
        gettext_lazy("投诉已受理：%(type)s"),
        gettext_lazy(
            "我们已收到你对“%(type)s”服务（%(starts_at)s）的投诉，将在 %(contact_due)s 前"
            "联系双方，并在 %(result_due)s 前告知处理结果。"
        ),
    ),
    "needs.complaint.new": (
        gettext_lazy("新投诉待处理：%(type)s"),
        gettext_lazy(
            "“%(type)s”服务 #%(id)s 收到投诉（%(category)s）。请在 %(contact_due)s 前联系双方，"
            "%(result_due)s 前给出处理结果。"
        ),
    ),
    "needs.complaint.escalated": (
        gettext_lazy("投诉超时上报：%(type)s"),
        gettext_lazy("“%(type)s”服务 #%(id)s 的投诉%(what)s，已超过时限，请跟进处理。"),
    ),
    "needs.complaint.resolved": (
        gettext_lazy("投诉处理结果：%(type)s"),
        gettext_lazy(
            "关于“%(type)s”服务（%(starts_at)s）的投诉已处理：%(decision)s。%(outcome)s"
            "说明：%(reason)s"
        ),
    ),
}
