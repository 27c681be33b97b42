"""The filter of the batch plan page (issue 5 "Batch mode"): which approved needs to plan."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import NeedType
from huzhu.orgs.models import Building


class BuildingChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.community} {obj.name}"


class BatchFilterForm(forms.Form):
    building = BuildingChoice(
        label=_("楼栋"), queryset=Building.objects.none(), required=False, empty_label=_("全部")
    )
    need_type = forms.ModelChoiceField(
        label=_("需求类型"),
        queryset=NeedType.objects.none(),
        required=False,
        empty_label=_("全部"),
    )
    day = forms.DateField(
        label=_("日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(
        self, *args: Any, buildings: QuerySet[Building], types: QuerySet[NeedType], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        building = self.fields["building"]
        assert isinstance(building, forms.ModelChoiceField)
        building.queryset = buildings
        need_type = self.fields["need_type"]
        assert isinstance(need_type, forms.ModelChoiceField)
        need_type.queryset = types
