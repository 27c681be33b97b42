"""Forms of the complaint pages: filing one (投诉这次服务), the list's filters, the handler's
contact record and decision. They parse and bound input; the rules live in
huzhu.needs.actions.complaints."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.core.errors import DomainError
from huzhu.needs.models import ComplaintCategory, ComplaintDecision, ComplaintState
from huzhu.timebank.money import parse_points

__all__ = ["ComplaintFilterForm", "ComplaintForm", "ContactForm", "ResolveForm"]

# Which side a manager files for.
REQUESTER_SIDE = "requester"
VOLUNTEER_SIDE = "volunteer"


class ComplaintForm(forms.Form):
    """投诉这次服务: what kind of problem and what happened; a manager filing for someone
    also says for which side."""

    category = forms.ChoiceField(
        label=_("投诉类别"),
        choices=ComplaintCategory.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择投诉类别。")},
    )
    description = forms.CharField(
        label=_("投诉内容"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("请说明发生了什么、什么时候，楼长会尽快联系您。"),
        error_messages={"required": _("请填写投诉内容。")},
    )
    side = forms.ChoiceField(
        label=_("代谁投诉"),
        required=False,
        choices=[(REQUESTER_SIDE, _("服务对象")), (VOLUNTEER_SIDE, _("志愿者"))],
        initial=REQUESTER_SIDE,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, on_behalf: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not on_behalf:
            del self.fields["side"]


class ComplaintFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[
            ("", _("全部")),
            ("pending", _("待处理")),
            ("overdue", _("已超时")),
            ("escalated", _("已上报")),
            *ComplaintState.choices,
        ],
    )
    category = forms.ChoiceField(
        label=_("类别"), required=False, choices=[("", _("全部")), *ComplaintCategory.choices]
    )
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": _("需求编号或姓名")}),
    )


class ContactForm(forms.Form):
    note = forms.CharField(
        label=_("联系记录"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("分别联系投诉人和被投诉人，记录双方的说法。"),
        error_messages={"required": _("请填写联系双方的情况。")},
    )


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("处理结论"),
        choices=ComplaintDecision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择处理结论。")},
    )
    deduct_points = forms.CharField(
        label=_("扣除被投诉人积分"),
        required=False,
        max_length=12,
        help_text=_("投诉成立时可扣分，留空表示不扣分。"),
    )
    suspend = forms.BooleanField(label=_("暂停志愿者服务并要求重新培训"), required=False)
    retrain = forms.BooleanField(label=_("仅要求志愿者重新培训"), required=False)
    reason = forms.CharField(
        label=_("处理说明"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("将告知投诉双方。"),
        error_messages={"required": _("请填写处理说明。")},
    )

    def clean_deduct_points(self) -> int:
        raw = (self.cleaned_data.get("deduct_points") or "").strip()
        if not raw:
            return 0
        try:
            value = parse_points(raw)
        except DomainError as exc:
            raise forms.ValidationError(str(exc.message)) from None
        if value < 0:
            raise forms.ValidationError(_("扣除积分不能为负数。"))
        return value
