"""The helpdesk's numbers (DOMAIN.md "Lockdown operations": every request gets an answer and an
owner), registered once in the settings registry (huzhu.core.registry) when the app loads."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from huzhu.core.registry import REGISTRY, register

ANSWER_HOURS = "helpdesk.answer_hours"

if ANSWER_HOURS not in REGISTRY:
    register(
        ANSWER_HOURS,
        4,
        _("居民问题答复时限"),
        unit=_("小时"),
        minimum=1,
        maximum=168,
        group=_("居民问答"),
        help_text=_("负责小组须在此时间内答复居民的问题，超时上报组长和分会负责人（只上报一次）。"),
    )
