"""Forms of the merchant pages: they parse and bound input; the rules (fee range, staff role,
the discount) live in huzhu.timebank.actions.merchants, scope is checked there and in the
views."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.core.errors import DomainError
from huzhu.orgs.forms import add_domain_error
from huzhu.timebank.actions.merchants import parse_yuan
from huzhu.timebank.models import MerchantStatus

__all__ = [
    "AgreementForm",
    "MerchantFilterForm",
    "MerchantForm",
    "ReconcileForm",
    "RedeemForm",
    "StaffForm",
    "StatementFilterForm",
    "add_domain_error",
    "new_key",
    "parse_month",
]

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def new_key() -> str:
    """A fresh idempotency key for a form: a double submit posts once."""
    return uuid.uuid4().hex


def parse_month(value: str) -> dt.date | None:
    """ "2026-03" → 2026-03-01; anything else → None."""
    match = MONTH_RE.match((value or "").strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2100 or not 1 <= month <= 12:
        return None
    return dt.date(year, month, 1)


def _key_field() -> forms.CharField:
    return forms.CharField(widget=forms.HiddenInput, max_length=100)


class MonthField(forms.CharField):
    """A month as YYYY-MM (the browser's month picker)."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "2026-03"})

    def to_python(self, value: Any) -> dt.date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        month = parse_month(text)
        if month is None:
            raise forms.ValidationError(_("请按“年-月”填写月份，例如 2026-03。"))
        return month


class MerchantFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=50, help_text=_("商户名称"))
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *MerchantStatus.choices]
    )


class MerchantForm(forms.Form):
    community = forms.TypedChoiceField(label=_("社区"), coerce=int)
    name = forms.CharField(label=_("商户名称"), max_length=100)
    category = forms.CharField(
        label=_("类别"), max_length=50, required=False, help_text=_("例如：超市、餐饮、理发")
    )
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)
    key = _key_field()

    def __init__(self, *args: Any, communities: list[tuple[int, str]] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        if communities is None:
            del self.fields["community"]
        else:
            field = self.fields["community"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = communities


class AgreementForm(forms.Form):
    fee_percent = forms.DecimalField(
        label=_("管理费比例（%）"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    starts_on = forms.DateField(
        label=_("生效日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("不填则从今天起生效。"),
    )
    ends_on = forms.DateField(
        label=_("终止日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("不填表示长期有效。"),
    )
    reference = forms.CharField(label=_("协议编号"), max_length=60, required=False)
    key = _key_field()


class StaffForm(forms.Form):
    phone = forms.CharField(
        label=_("店员手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("店员须先在本社区获得“商户”角色。"),
    )
    key = _key_field()


class RedeemForm(forms.Form):
    """The till: the member's code and the purchase amount in yuan."""

    token = forms.CharField(
        label=_("会员付款码"),
        max_length=400,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
        ),
        help_text=_("扫描会员出示的二维码，或粘贴/输入二维码下方的文字。"),
        error_messages={"required": _("请扫描或输入会员的付款码。")},
    )
    purchase = forms.CharField(
        label=_("消费金额（元）"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "60.00"}
        ),
        help_text=_("本次消费的总金额，最多两位小数。"),
        error_messages={"required": _("请输入消费金额。")},
    )
    key = _key_field()

    def clean_purchase(self) -> int:
        try:
            return parse_yuan(self.cleaned_data["purchase"])
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None


class StatementFilterForm(forms.Form):
    month = MonthField(label=_("月份"), required=False)
    q = forms.CharField(label=_("商户"), required=False, max_length=50)


class ReconcileForm(forms.Form):
    month = MonthField(label=_("对账月份"), help_text=_("只能对已结束的月份对账。"))
