"""Forms of the org pages. They parse and bound input; the rules live in huzhu.orgs.actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Role
from huzhu.core.errors import DomainError
from huzhu.core.registry import REGISTRY
from huzhu.orgs.models import Alliance, Building, Group

ROLE_CHOICES: list[tuple[str, Any]] = [("", _("（不按角色）")), *Role.choices]


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show an action's DomainError on the field it names, else above the form."""
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc.message))


def _latitude() -> forms.DecimalField:
    return forms.DecimalField(
        label=_("纬度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-90"),
        max_value=Decimal("90"),
        help_text=_("可选，用于按距离匹配志愿者；例如 31.230000。"),
    )


def _longitude() -> forms.DecimalField:
    return forms.DecimalField(
        label=_("经度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-180"),
        max_value=Decimal("180"),
        help_text=_("可选；与纬度一起填写，例如 121.470000。"),
    )


class SearchForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=50)

    def term(self) -> str:
        return str(self.cleaned_data.get("q") or "").strip() if self.is_valid() else ""


class CommunityForm(forms.Form):
    name = forms.CharField(
        label=_("名称"), max_length=100, help_text=_("社区分会或小区的名称，在同一联盟内不能重复。")
    )
    name_en = forms.CharField(
        label=_("英文名称"), max_length=100, required=False, help_text=_("可选，英文界面显示。")
    )
    district = forms.CharField(label=_("街道 / 区"), max_length=100, required=False)
    address = forms.CharField(
        label=_("地址"),
        max_length=200,
        required=False,
        help_text=_("社区的公开地址，不含门牌室号。"),
    )
    latitude = _latitude()
    longitude = _longitude()


class CommunityCreateForm(CommunityForm):
    alliance = forms.ModelChoiceField(
        label=_("联盟"),
        queryset=Alliance.objects.none(),
        help_text=_("只列出您有权新建社区的联盟。"),
    )
    field_order = ["alliance", "name", "name_en", "district", "address", "latitude", "longitude"]

    def __init__(self, *args: Any, alliances: QuerySet[Alliance], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["alliance"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = alliances
        if len(alliances) == 1:
            field.initial = alliances[0].pk


class BuildingForm(forms.Form):
    name = forms.CharField(
        label=_("楼号"), max_length=50, help_text=_("例如“1号楼”，在本社区内不能重复。")
    )
    floors = forms.IntegerField(label=_("楼层数"), min_value=1, max_value=200, initial=6)
    latitude = _latitude()
    longitude = _longitude()


class HouseholdForm(forms.Form):
    room = forms.CharField(
        label=_("房号"), max_length=20, help_text=_("例如“101”，在本楼栋内不能重复。")
    )
    floor = forms.IntegerField(
        label=_("楼层"),
        required=False,
        min_value=-5,
        max_value=200,
        help_text=_("可选；地下室用负数。"),
    )
    address_detail = forms.CharField(
        label=_("详细地址"),
        required=False,
        max_length=200,
        help_text=_("加密保存，只有授权人员点击“查看”后才显示，每次查看都会记录。"),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["address_detail"].label = _("新的详细地址")
            self.fields["address_detail"].help_text = _(
                "留空表示不修改；原地址不在此显示。加密保存。"
            )


class GroupForm(forms.Form):
    name = forms.CharField(
        label=_("名称"),
        max_length=100,
        help_text=_("例如“客服关爱”“物流组”，同一上级组下不能重复。"),
    )
    name_en = forms.CharField(label=_("英文名称"), max_length=100, required=False)
    description = forms.CharField(
        label=_("说明"),
        required=False,
        max_length=5000,
        widget=forms.Textarea,
        help_text=_("这个组做什么、怎么联系。"),
    )


class GroupCreateForm(GroupForm):
    parent = forms.ModelChoiceField(
        label=_("上级组"),
        queryset=Group.objects.none(),
        required=False,
        help_text=_("留空则为社区下的一级组。"),
    )
    building = forms.ModelChoiceField(
        label=_("楼栋"),
        queryset=Building.objects.none(),
        required=False,
        help_text=_("可选：只负责某一栋楼的小组。"),
    )
    field_order = ["parent", "name", "name_en", "building", "description"]

    def __init__(
        self,
        *args: Any,
        parents: QuerySet[Group],
        buildings: QuerySet[Building],
        parent_required: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        parent = self.fields["parent"]
        building = self.fields["building"]
        assert isinstance(parent, forms.ModelChoiceField)
        assert isinstance(building, forms.ModelChoiceField)
        parent.queryset = parents
        building.queryset = buildings
        if parent_required:
            parent.required = True
            parent.help_text = _("您可以在自己负责的组下新建子组。")


class JobForm(forms.Form):
    group = forms.ModelChoiceField(
        label=_("职能组"),
        queryset=Group.objects.none(),
        required=False,
        help_text=_("岗位属于哪个职能组；也可以只按角色填写。"),
    )
    role = forms.ChoiceField(
        label=_("角色"),
        choices=ROLE_CHOICES,
        required=False,
        help_text=_("例如楼长、志愿者的岗位说明书；与职能组至少选一项。"),
    )
    title = forms.CharField(label=_("岗位名称"), max_length=100)
    purpose = forms.CharField(
        label=_("岗位目的"),
        max_length=5000,
        widget=forms.Textarea,
        help_text=_("一两句话说明为什么需要这个岗位。"),
    )
    duties = forms.CharField(
        label=_("工作职责"), max_length=10000, widget=forms.Textarea, help_text=_("每行一条。")
    )
    workflow = forms.CharField(
        label=_("工作流程"),
        max_length=10000,
        required=False,
        widget=forms.Textarea,
        help_text=_("可选：按步骤写。"),
    )
    howto = forms.CharField(
        label=_("操作指引"),
        max_length=10000,
        required=False,
        widget=forms.Textarea,
        help_text=_("可选：在平台上怎么操作，常见问题。"),
    )

    def __init__(
        self, *args: Any, groups: QuerySet[Group], group_required: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        group = self.fields["group"]
        assert isinstance(group, forms.ModelChoiceField)
        group.queryset = groups
        if group_required:
            group.required = True
            group.help_text = _("您可以为自己负责的组编写岗位说明书。")


class SettingForm(forms.Form):
    key = forms.ChoiceField(label=_("设置项"), choices=())
    value = forms.CharField(
        label=_("值"), required=False, max_length=64, help_text=_("留空表示使用上级的值。")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = self.fields["key"]
        assert isinstance(key, forms.ChoiceField)
        key.choices = [(k, spec.label) for k, spec in REGISTRY.items()]
