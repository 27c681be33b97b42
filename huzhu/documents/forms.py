"""The forms of the document pages; the rules themselves are checked by the actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.documents.models import DocumentKind, Visibility
from huzhu.orgs.models import Community, Group

_BODY_HELP = _("纯文本，每行一段；可用“1.”“-”等列出步骤。")


def _body(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label if label is not None else _("正文"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text=_BODY_HELP,
        strip=False,
    )


def _flowchart() -> forms.FileField:
    return forms.FileField(
        label=_("流程图（可选）"),
        required=False,
        help_text=_("PNG、JPEG、GIF 或 WebP 图片。"),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )


class DocumentForm(forms.Form):
    community = forms.ModelChoiceField(
        label=_("社区"),
        queryset=Community.objects.none(),
        required=False,
        help_text=_("不选负责小组时必填。"),
    )
    group = forms.ModelChoiceField(
        label=_("负责小组"),
        queryset=Group.objects.none(),
        required=False,
        help_text=_("由该小组的组长维护；不选则由分会负责人维护。"),
    )
    kind = forms.ChoiceField(label=_("类别"), choices=DocumentKind.choices)
    title = forms.CharField(label=_("标题"), max_length=100)
    visibility = forms.ChoiceField(
        label=_("可见范围"), choices=Visibility.choices, initial=Visibility.COMMUNITY
    )
    body = _body()
    flowchart = _flowchart()
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(
        self,
        *args: Any,
        groups: QuerySet[Group],
        communities: QuerySet[Community],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        group = self.fields["group"]
        assert isinstance(group, forms.ModelChoiceField)
        group.queryset = groups.select_related("community")
        community = self.fields["community"]
        assert isinstance(community, forms.ModelChoiceField)
        community.queryset = communities

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        group = data.get("group")
        if group is not None:
            data["community"] = group.community
        elif data.get("community") is None and not self.errors:
            self.add_error("community", _("请选择负责小组或社区。"))
        return data


class VersionForm(forms.Form):
    body = _body()
    summary = forms.CharField(
        label=_("修改说明"), max_length=200, help_text=_("这一版改了什么，为什么改。")
    )
    flowchart = _flowchart()
    remove_flowchart = forms.BooleanField(label=_("删除流程图"), required=False)
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)


class SuggestionForm(forms.Form):
    body = _body(_("建议的正文"))
    reason = forms.CharField(
        label=_("修改理由"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("说明为什么这样改，便于组长判断。"),
    )
    base_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    key = forms.CharField(widget=forms.HiddenInput, max_length=128)


class DecisionForm(forms.Form):
    """The decision itself is the button pressed (``decision`` = accept / reject)."""

    note = forms.CharField(label=_("处理说明"), max_length=500, required=False)
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
