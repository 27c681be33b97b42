"""Forms of the broker's workspace: finding people, picking a volunteer, arranging a recurring
service."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import Recurrence


class CareSearchForm(forms.Form):
    q = forms.CharField(label=_("姓名、房号或手机号"), required=False, max_length=50)
    scope = forms.ChoiceField(
        label=_("范围"),
        required=False,
        choices=[("", _("我照护的")), ("all", _("辖区全部居民"))],
    )


class PickForm(forms.Form):
    volunteer = forms.IntegerField(
        min_value=1, error_messages={"required": _("请选择一位志愿者。")}
    )


class RecurringForm(forms.Form):
    recurrence = forms.ChoiceField(
        label=_("重复"),
        choices=[
            (Recurrence.WEEKLY, Recurrence.WEEKLY.label),
            (Recurrence.BIWEEKLY, Recurrence.BIWEEKLY.label),
            (Recurrence.MONTHLY, Recurrence.MONTHLY.label),
        ],
        error_messages={"required": _("请选择重复方式。")},
    )
