"""Template context shared by every page: large-text mode and the navigation per role."""

from __future__ import annotations

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
    if policy.can_anywhere(user, "audit.view"):
        items.append((_("审计日志"), reverse("audit:list")))
    path = request.path
    return [
        {"label": label, "url": url, "active": path == url if url == "/" else path.startswith(url)}
        for label, url in items
    ]


def ui(request: HttpRequest) -> dict[str, Any]:
    return {
        "large_text": request.COOKIES.get("huzhu_large_text") == "1",
        "nav": _nav(request),
    }
