"""Forms of the members pages. They parse and bound input; the rules (fees, receipts, one
membership per person, referral codes) live in huzhu.timebank.actions.members."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.core import clock
from huzhu.orgs.forms import add_domain_error
from huzhu.timebank.models import PaymentMethod, Tier

__all__ = [
    "JoinForm",
    "LeaderboardMonthForm",
    "MemberFilterForm",
    "RenewForm",
    "add_domain_error",
    "yuan_to_fen",
]


def yuan_to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("姓名"), required=False, max_length=50)
    tier = forms.ChoiceField(
        label=_("会员类型"), required=False, choices=[("", _("全部")), *Tier.choices]
    )
    expiring = forms.BooleanField(label=_("30 天内到期"), required=False)
    community = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class _PaymentForm(forms.Form):
    tier = forms.ChoiceField(label=_("会员类型"), choices=Tier.choices)
    amount = forms.DecimalField(
        label=_("实收金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
        help_text=_("按本社区的会员年费自动填写；须与年费一致。"),
    )
    method = forms.ChoiceField(label=_("支付方式"), choices=PaymentMethod.choices)
    receipt_number = forms.CharField(
        label=_("收据编号"),
        max_length=60,
        help_text=_("纸质收据或转账凭证上的编号，本社区内不可重复。"),
    )
    paid_on = forms.DateField(
        label=_("缴费日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(self, *args: Any, fees: dict[str, Decimal] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fees = fees or {}
        self.fields["paid_on"].initial = clock.today()
        self.fields["idempotency_key"].initial = secrets.token_urlsafe(16)
        tier = self.initial.get("tier") or Tier.TRIAL
        if tier in self.fees:
            self.fields["amount"].initial = self.fees[tier]
        # The amount follows the tier (a small inline script reads these).
        self.fields["tier"].widget.attrs["data-fees"] = ",".join(
            f"{k}:{v}" for k, v in self.fees.items()
        )

    def clean_paid_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["paid_on"]
        return value


class JoinForm(_PaymentForm):
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        help_text=_("入会人员在平台登记的手机号。"),
    )
    referral_code = forms.CharField(
        label=_("推荐码"),
        required=False,
        max_length=16,
        help_text=_("可选；推荐人将获得推荐奖励积分。"),
    )

    field_order = [
        "phone",
        "tier",
        "amount",
        "method",
        "receipt_number",
        "paid_on",
        "referral_code",
        "idempotency_key",
    ]


class RenewForm(_PaymentForm):
    pass


class LeaderboardMonthForm(forms.Form):
    month = forms.DateField(label=_("月份"), required=False, input_formats=["%Y-%m"])
