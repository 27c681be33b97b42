"""Forms of the helpdesk pages. They parse and bound input; the rules live in
huzhu.helpdesk.actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.helpdesk.actions import ANSWER_MAX, REASON_MAX, TEXT_MAX
from huzhu.helpdesk.models import FAQVisibility, QuestionState
from huzhu.orgs.models import Building, Group


class AskForm(forms.Form):
    text = forms.CharField(
        label=_("您的问题"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("例如：明天几点做核酸？团购的蔬菜什么时候到？"),
        error_messages={"required": _("请填写您的问题。")},
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), *QuestionState.choices],
    )
    overdue = forms.BooleanField(label=_("只看超时"), required=False)
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100)


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("答复"),
        max_length=ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请填写答复。")},
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)


class ReassignForm(forms.Form):
    group = forms.ModelChoiceField(label=_("转派给"), queryset=Group.objects.none())
    reason = forms.CharField(label=_("转派原因"), max_length=REASON_MAX)

    def __init__(self, *args: Any, groups: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups  # type: ignore[attr-defined]


class CloseForm(forms.Form):
    reason = forms.CharField(label=_("关闭原因"), max_length=REASON_MAX, required=False)


class PublishForm(forms.Form):
    question = forms.CharField(
        label=_("问题"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("发布前请去掉姓名、房号等个人信息。"),
    )
    answer = forms.CharField(
        label=_("答复"), max_length=ANSWER_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )
    visibility = forms.ChoiceField(
        label=_("可见范围"), choices=FAQVisibility.choices, initial=FAQVisibility.COMMUNITY
    )
    buildings = forms.ModelMultipleChoiceField(
        label=_("适用楼栋"),
        queryset=Building.objects.none(),
        required=False,
        help_text=_("不选则全社区适用"),
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(self, *args: Any, buildings: QuerySet[Building], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["buildings"].queryset = buildings  # type: ignore[attr-defined]


class RuleForm(forms.Form):
    category = forms.CharField(label=_("问题类别"), max_length=50)
    keywords = forms.CharField(
        label=_("关键词"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("每行一个关键词；问题中出现任一关键词即分派给该小组。"),
    )
    group = forms.ModelChoiceField(label=_("负责小组"), queryset=Group.objects.none())
    priority = forms.IntegerField(
        label=_("优先级"),
        min_value=0,
        max_value=1000,
        initial=100,
        help_text=_("多条规则同时命中时，优先级高的生效。"),
    )
    is_default = forms.BooleanField(
        label=_("默认小组"),
        required=False,
        help_text=_("没有命中任何关键词的问题分派给默认小组。"),
    )
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, groups: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups  # type: ignore[attr-defined]
