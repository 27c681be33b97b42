"""Forms of the ledger pages: they parse and bound input; the rules live in the actions
(huzhu.timebank.actions.ledger / rules / paper), scope is checked there and in the views."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.orgs.forms import add_domain_error
from huzhu.orgs.models import Building
from huzhu.timebank.models import PaperKind, PaperStatus
from huzhu.timebank.money import parse_points

__all__ = [
    "PaperCheckForm",
    "PaperEntryForm",
    "PaperFilterForm",
    "ReverseForm",
    "ServiceDayForm",
    "add_domain_error",
    "new_key",
]


def new_key() -> str:
    """A fresh idempotency key for a form: a double submit posts once."""
    return uuid.uuid4().hex


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PaperFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *PaperStatus.choices]
    )
    building = forms.TypedChoiceField(label=_("楼栋"), required=False, coerce=int, empty_value=None)
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        help_text=_("登记本编号或姓名"),
    )

    def __init__(self, *args: Any, buildings: QuerySet[Building], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["building"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("全部楼栋")), *[(b.pk, str(b.name)) for b in buildings]]


class PersonChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        household = obj.household
        where = f"{household.building.name} {household.room}" if household is not None else ""
        return f"{obj.name} {where}".strip()


class PaperEntryForm(forms.Form):
    """One slip of the paper book. ``person`` is picked among the people the manager may
    enter for (searched by name); ``counterparty`` is the volunteer paid (SPEND only)."""

    person = PersonChoice(
        label=_("居民"),
        queryset=Person.objects.none(),
        widget=forms.RadioSelect,
        error_messages={"required": _("请先搜索并选择登记本上的居民。")},
    )
    kind = forms.ChoiceField(
        label=_("类型"), choices=PaperKind.choices, widget=forms.RadioSelect, initial="earn"
    )
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal("24"),
        decimal_places=2,
        help_text=_("服务获得时填写，例如 1.5"),
        widget=forms.NumberInput(attrs={"step": "0.25", "inputmode": "decimal"}),
    )
    points = forms.CharField(
        label=_("支付积分"),
        required=False,
        max_length=12,
        help_text=_("积分支付时填写，最多两位小数，例如 2 或 1.5"),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    counterparty = PersonChoice(
        label=_("收款志愿者"),
        queryset=Person.objects.none(),
        required=False,
        help_text=_("积分支付时选择收到积分的志愿者"),
    )
    service_date = forms.DateField(label=_("服务日期"), widget=_date_input())
    slip_number = forms.CharField(
        label=_("登记本编号"),
        max_length=40,
        help_text=_("纸质登记本上该条记录的编号，同一社区内不能重复"),
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=200)
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(
        self,
        *args: Any,
        people: QuerySet[Person],
        volunteers: QuerySet[Person],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        person = self.fields["person"]
        counterparty = self.fields["counterparty"]
        assert isinstance(person, forms.ModelChoiceField)
        assert isinstance(counterparty, forms.ModelChoiceField)
        person.queryset = people
        counterparty.queryset = volunteers
        counterparty.empty_label = _("（积分支付时选择）")

    def clean_points(self) -> int | None:
        raw = (self.cleaned_data.get("points") or "").strip()
        if not raw:
            return None
        try:
            return parse_points(raw)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == PaperKind.EARN and not data.get("hours"):
            self.add_error("hours", _("请填写服务时长。"))
        if kind == PaperKind.SPEND:
            if not data.get("points"):
                self.add_error("points", _("请填写支付的积分。"))
            if not data.get("counterparty"):
                self.add_error("counterparty", _("请选择收款的志愿者。"))
        return data


class PaperCheckForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("复核结果"),
        choices=[("approve", _("核对无误，入账")), ("reject", _("退回"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("退回原因"),
        required=False,
        max_length=200,
        help_text=_("退回时必填，录入人会看到"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("退回时请填写原因。"))
        return data


class ServiceDayForm(forms.Form):
    date = forms.DateField(label=_("日期"), widget=_date_input())
    name = forms.CharField(
        label=_("名称"), required=False, max_length=100, help_text=_("例如：学雷锋日")
    )


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("冲正原因"), max_length=500)
    evidence = forms.CharField(
        label=_("证据"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("例如：登记本照片编号、双方确认的说明"),
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)
