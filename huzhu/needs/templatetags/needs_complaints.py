"""Template tags of the complaint pages: whether the signed-in person may complain about a
service (for the link on a need's page)."""

from __future__ import annotations

from typing import Any

from django import template

from huzhu.needs.complaint_queries import may_file

register = template.Library()


@register.simple_tag(takes_context=True)
def may_complain(context: dict[str, Any], need: Any) -> bool:
    """A side of the started or finished service, or a manager who files for one."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return may_file(user, need)
