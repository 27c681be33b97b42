"""Forms of the needs pages: publishing (我要求助), the requester's and manager's steps on a
need (cancel, confirm, rate, review, offer, no-show) and the volunteer's answer (decline).
They parse and bound input; the rules live in huzhu.needs.actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.needs.models import NeedState, NeedType
from huzhu.orgs.forms import add_domain_error
from huzhu.timebank.money import parse_points

__all__ = [
    "CancelForm",
    "ConfirmForm",
    "DeclineForm",
    "MyNeedsFilterForm",
    "NoShowForm",
    "OfferForm",
    "PublishForm",
    "RateForm",
    "ReviewForm",
    "add_domain_error",
]

DURATIONS = [
    (30, _("半小时")),
    (60, _("1 小时")),
    (90, _("1.5 小时")),
    (120, _("2 小时")),
    (180, _("3 小时")),
    (240, _("4 小时")),
]


class TypeChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


class OnBehalfChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        household = obj.household
        where = f"{household.building.name} {household.room}" if household is not None else ""
        return f"{obj.name} {where}".strip()


class PublishForm(forms.Form):
    """我要求助: what (big buttons), when (date, time, how long), what is needed, and whether
    it is paid with points. A manager or broker also picks the person it is for."""

    need_type = TypeChoice(
        label=_("需要什么帮助"),
        queryset=NeedType.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("请选择需要什么帮助。")},
    )
    date = forms.DateField(
        label=_("日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("请选择日期。"), "invalid": _("日期格式不正确。")},
    )
    time = forms.TimeField(
        label=_("开始时间"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": _("请选择开始时间。"), "invalid": _("时间格式不正确。")},
    )
    duration = forms.TypedChoiceField(
        label=_("大约多久"),
        choices=DURATIONS,
        coerce=int,
        initial=60,
        required=False,
        empty_value=None,
    )
    description = forms.CharField(
        label=_("具体说明"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：周三上午陪我去社区医院复查，需要推轮椅"),
        error_messages={"required": _("请说明需要什么帮助。")},
    )
    pay_with_points = forms.BooleanField(
        label=_("用积分支付"),
        required=False,
        help_text=_("勾选后，您为这次服务付积分给志愿者（志愿者另外照常获得服务时长积分）。"),
    )
    points = forms.CharField(
        label=_("支付积分"),
        required=False,
        max_length=12,
        help_text=_(
            "志愿者接单时，从服务对象的积分中冻结这么多积分；验收后支付给志愿者，取消则全部退回。"
        ),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    on_behalf_of = OnBehalfChoice(
        label=_("为谁求助"),
        queryset=Person.objects.none(),
        required=False,
        help_text=_("代居民发布时选择；不选则为自己发布"),
    )

    def __init__(
        self,
        *args: Any,
        types: QuerySet[NeedType],
        people: QuerySet[Person] | None = None,
        available: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if available is not None:
            # How much the publisher has to pay with: the points they could have held now.
            self.fields["points"].help_text = _(
                "志愿者接单时，从服务对象的积分中冻结这么多积分；验收后支付给志愿者，"
                "取消则全部退回。您现在可用的积分：%(n)s。"
            ) % {"n": available}
        need_type = self.fields["need_type"]
        assert isinstance(need_type, forms.ModelChoiceField)
        need_type.queryset = types
        on_behalf = self.fields["on_behalf_of"]
        assert isinstance(on_behalf, forms.ModelChoiceField)
        if people is None:
            del self.fields["on_behalf_of"]
        else:
            on_behalf.queryset = people
            on_behalf.empty_label = _("（为自己发布）")

    def clean_points(self) -> int:
        raw = (self.cleaned_data.get("points") or "").strip()
        if not raw:
            return 0
        try:
            return parse_points(raw)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("pay_with_points") and not data.get("points"):
            self.add_error("points", _("请填写支付的积分。"))
        day, time = data.get("date"), data.get("time")
        if day is not None and time is not None:
            start = timezone.make_aware(dt.datetime.combine(day, time))
            data["starts_at"] = start
            data["ends_at"] = start + dt.timedelta(minutes=int(data.get("duration") or 60))
        return data


class MyNeedsFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), ("open", _("进行中")), *NeedState.choices],
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("取消原因"),
        max_length=500,
        error_messages={"required": _("请填写取消原因。")},
    )


class ConfirmForm(forms.Form):
    """The requester confirms with one button; a manager confirming from the paper slip gives
    its number (the action requires it of them)."""

    slip_number = forms.CharField(
        label=_("纸质服务单编号"),
        required=False,
        max_length=40,
        help_text=_("代居民验收时必填"),
    )


class RateForm(forms.Form):
    stars = forms.TypedChoiceField(
        label=_("评分"),
        choices=[(5, "★★★★★"), (4, "★★★★"), (3, "★★★"), (2, "★★"), (1, "★")],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择星级。")},
    )
    comment = forms.CharField(
        label=_("评价"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("审核结果"),
        choices=[("approve", _("通过")), ("reject", _("驳回"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择通过或驳回。")},
    )
    reason = forms.CharField(
        label=_("驳回原因"), required=False, max_length=500, help_text=_("驳回时必填，居民会看到")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("驳回时请填写原因。"))
        return data


class OfferForm(forms.Form):
    """The volunteers ticked among the suggestions."""

    volunteers = forms.TypedMultipleChoiceField(
        label=_("派给"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一位志愿者。")},
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["volunteers"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("谢绝原因"),
        max_length=500,
        error_messages={"required": _("请填写谢绝原因。")},
    )


class NoShowForm(forms.Form):
    note = forms.CharField(label=_("备注"), required=False, max_length=500)
