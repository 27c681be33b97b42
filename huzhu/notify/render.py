"""Event texts in the recipient's language: a registry of codes → (title, body) templates.

Templates are Chinese source strings with named placeholders (``%(role)s``), translated by
the catalogue; ``render_event`` renders them under the recipient's ``preferred_language``,
and renders the context values (role labels, dates, names) in that language too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Person

EVENTS: dict[str, tuple[Promise, Promise]] = {
    "accounts.role.granted": (
        _("你获得了“%(role)s”角色"),
        _("%(actor)s 授予你“%(role)s”角色，范围：%(scope)s。"),
    ),
    "accounts.role.revoked": (
        _("你的“%(role)s”角色已被撤销"),
        _("%(actor)s 撤销了你的“%(role)s”角色，范围：%(scope)s。"),
    ),
    "accounts.person.status_changed": (
        _("你的账号状态已变为“%(status)s”"),
        _("%(actor)s 将你的账号状态改为“%(status)s”。截止：%(until)s。原因：%(reason)s"),
    ),
    "notify.broadcast.reply_reminder": (
        _("请回复：%(title)s"),
        _("“%(title)s”需要你在 %(deadline)s 之前回复，请登录平台作答。"),
    ),
}


def register_events(events: dict[str, tuple[Promise, Promise]]) -> None:
    """Domain apps add their event texts from ``AppConfig.ready`` (notify does not import them).
    A code may be registered once."""
    for code, texts in events.items():
        if code in EVENTS and EVENTS[code] != texts:
            raise ValueError(f"event {code!r} is registered twice")
        EVENTS[code] = texts


def _value(value: Any) -> str:
    """One context value as text in the active language."""
    if value is None or value == "":
        return str(_("无"))
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, (Promise, models.Model)):
        return str(value)
    return str(value)


def render_event(code: str, person: Person, **context: Any) -> tuple[str, str]:
    """(title, body) of event ``code`` for ``person``, in the person's language."""
    try:
        title, body = EVENTS[code]
    except KeyError:
        raise ValueError(f"no text registered for event {code!r}") from None
    language = person.preferred_language or "zh-hans"
    with translation.override(language):
        values = {name: _value(v) for name, v in context.items()}
        return str(title) % values, str(body) % values
