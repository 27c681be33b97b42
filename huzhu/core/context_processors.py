"""Template context shared by every page: large-text mode, the navigation per role and the
unread count of the inbox."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _


def _nav(request: HttpRequest) -> list[dict[str, Any]]:
    from huzhu.accounts import policy

    user = request.user
    if not getattr(user, "is_authenticated", False):
        return []
    items = [(_("首页"), reverse("home")), (_("我的资料"), reverse("accounts:profile"))]
    if policy.can_anywhere(user, "accounts.view_person"):
        items.append((_("人员"), reverse("accounts:person_list")))
    if (
        policy.can_anywhere(user, "orgs.view_community")
        or policy.can_anywhere(user, "orgs.view_building")
        or policy.can_anywhere(user, "orgs.view_group")
    ):
        items.append((_("社区与楼栋"), reverse("orgs:community_list")))
    items.append((_("我要求助"), reverse("needs:need_create")))
    items.append((_("我的需求"), reverse("needs:my_needs")))
    if "volunteer" in policy.roles_of(user):  # type: ignore[arg-type]
        items.append((_("我的邀请"), reverse("needs:inbox")))
        items.append((_("我的服务"), reverse("needs:schedule")))
    if policy.can_anywhere(user, "needs.review"):
        items.append((_("待审核"), reverse("needs:review_queue")))
    if policy.can_anywhere(user, "needs.view"):
        items.append((_("超时上报"), reverse("needs:escalated")))
    if policy.can_anywhere(user, "needs.handle_complaint"):
        items.append((_("投诉处理"), reverse("needs:complaint_list")))
    if policy.can_anywhere(user, "needs.plan_batch"):
        items.append((_("批量派单"), reverse("needs:batch_plan")))
    if policy.can_anywhere(user, "needs.care"):
        items.append((_("经纪人工作台"), reverse("needs:broker_home")))
    if policy.can_anywhere(user, "needs.manage_types"):
        items.append((_("需求类型"), reverse("needs:type_list")))
    if policy.can_anywhere(user, "helpdesk.ask"):
        items.append((_("我要提问"), reverse("helpdesk:ask")))
    if policy.can_anywhere(user, "helpdesk.answer"):
        items.append((_("问题队列"), reverse("helpdesk:queue")))
    if policy.can_anywhere(user, "helpdesk.manage_rules"):
        items.append((_("分派规则"), reverse("helpdesk:rules")))
    items.append((_("团购"), reverse("lockdown:group_buys")))
    items.append((_("楼栋状态"), reverse("lockdown:board_home")))
    items.append((_("文档"), reverse("documents:list")))
    items.append((_("集中检测"), reverse("lockdown:testing_sessions")))
    if {"group_member", "group_leader"} & set(policy.roles_of(user)):  # type: ignore[arg-type]
        items.append((_("我的配送"), reverse("lockdown:my_deliveries")))
    items.append((_("我的积分"), reverse("timebank:my_points")))
    if policy.can_anywhere(user, "timebank.enter_paper"):
        items.append((_("纸质登记本"), reverse("timebank:paper_list")))
    if policy.can_anywhere(user, "timebank.redeem"):
        items.append((_("商户收银"), reverse("timebank:merchant_mine")))
    if policy.can_anywhere(user, "timebank.manage_merchants"):
        items.append((_("商户"), reverse("timebank:merchant_list")))
    if policy.can_anywhere(user, "timebank.reconcile_merchants"):
        items.append((_("商户月结"), reverse("timebank:merchant_statements")))
    if policy.can_anywhere(user, "timebank.view_members"):
        items.append((_("会员管理"), reverse("timebank:member_list")))
    if policy.can_anywhere(user, "notify.broadcast"):
        items.append((_("通知广播"), reverse("notify:broadcast_list")))
    if policy.can_anywhere(user, "audit.view"):
        items.append((_("审计日志"), reverse("audit:list")))
    path = request.path
    return [
        {"label": label, "url": url, "active": path == url if url == "/" else path.startswith(url)}
        for label, url in items
    ]


def _unread_count(request: HttpRequest) -> Callable[[], int] | None:
    """The inbox badge: counted once, and only when a template shows it."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        return None

    @functools.cache
    def count() -> int:
        from huzhu.notify import queries

        return queries.unread_count(user)  # type: ignore[arg-type]

    return count


def ui(request: HttpRequest) -> dict[str, Any]:
    return {
        "large_text": request.COOKIES.get("huzhu_large_text") == "1",
        "nav": _nav(request),
        "unread_count": _unread_count(request),
    }
