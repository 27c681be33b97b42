"""Forms of the need-taxonomy pages (需求类型): the list's search and filter, and creating or
editing a type. They parse and bound input; the rules live in huzhu.needs.actions.types."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Skill
from huzhu.needs.actions.types import MAX_DURATION, MAX_RADIUS, MIN_DURATION, MIN_RADIUS

__all__ = ["NeedTypeForm", "TypeFilterForm"]

ACTIVE = "active"
INACTIVE = "inactive"


class TypeFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": _("代码或名称")}),
    )
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), (ACTIVE, _("启用中")), (INACTIVE, _("已停用"))],
    )


class NeedTypeForm(forms.Form):
    """需求类型: the code (only when creating: it cannot change later), names, required skills
    (checkboxes by category and name), default duration and search radius."""

    code = forms.CharField(
        label=_("类型代码"),
        max_length=40,
        help_text=_(
            "小写字母、数字、- 或 _，例如 escort、haircut；用于接口和统计，创建后不能修改。"
        ),
        error_messages={"required": _("请填写类型代码。")},
    )
    name = forms.CharField(
        label=_("名称"),
        max_length=50,
        help_text=_("居民发布求助时看到的名称，例如 陪诊、代购。"),
        error_messages={"required": _("请填写名称。")},
    )
    name_en = forms.CharField(
        label=_("英文名称"),
        max_length=50,
        required=False,
        help_text=_("英文界面显示的名称；不填时显示中文名称。"),
    )
    skills = forms.ModelMultipleChoiceField(
        label=_("所需技能"),
        queryset=Skill.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("只有具备全部所选技能的志愿者才会被推荐；不选表示不要求特定技能。"),
    )
    default_duration_minutes = forms.IntegerField(
        label=_("默认时长（分钟）"),
        min_value=MIN_DURATION,
        max_value=MAX_DURATION,
        initial=60,
        help_text=_("发布求助时预填的服务时长，15 到 1440 分钟。"),
        error_messages={
            "required": _("请填写默认时长。"),
            "min_value": _("默认时长须在 15 到 1440 分钟（一天）之间。"),
            "max_value": _("默认时长须在 15 到 1440 分钟（一天）之间。"),
        },
    )
    default_radius_m = forms.IntegerField(
        label=_("默认搜索半径（米）"),
        min_value=MIN_RADIUS,
        max_value=MAX_RADIUS,
        initial=3000,
        help_text=_("在这个距离内寻找志愿者，100 到 50000 米。"),
        error_messages={
            "required": _("请填写默认搜索半径。"),
            "min_value": _("默认搜索半径须在 100 到 50000 米之间。"),
            "max_value": _("默认搜索半径须在 100 到 50000 米之间。"),
        },
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        skills = self.fields["skills"]
        assert isinstance(skills, forms.ModelMultipleChoiceField)
        rows = list(Skill.objects.order_by("category", "name", "code"))
        skills.queryset = Skill.objects.order_by("category", "name", "code")
        self._category = {s.pk: s.category for s in rows}
        if editing:
            del self.fields["code"]  # the code is immutable: shown, never posted

    def skill_groups(self) -> list[tuple[str, list[Any]]]:
        """The skill checkboxes grouped by category (in category, then name, order)."""
        groups: dict[str, list[Any]] = {}
        for box in self["skills"]:
            value = box.data["value"]
            pk = int(str(getattr(value, "value", value)))
            groups.setdefault(self._category.get(pk, ""), []).append(box)
        return list(groups.items())
