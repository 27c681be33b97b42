"""The leader's form to open a group buy on a phone: items are pasted one per line, as they
are written in the chat group (“蔬菜包，份，58，库存，限购，成团数量”)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.forms import DATETIME
from huzhu.lockdown.actions import ItemSpec
from huzhu.orgs.models import Building, Group

_SPLIT = re.compile(r"\s*[,，|｜\t]\s*")


def parse_items(text: str) -> list[ItemSpec]:
    """One item a line: name, unit, price in yuan (≤ 2 decimals), then optional stock,
    per-household limit and minimum total (empty = none). Raises ValidationError naming the
    line."""
    specs = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = _SPLIT.split(line)
        if len(parts) < 3 or len(parts) > 6:
            raise forms.ValidationError(
                _t(
                    "第 %(n)s 行格式不对：应为“名称，单位，单价（元）”，"
                    "可再加“库存，每户限购，成团数量”。"
                )
                % {"n": n}
            )
        try:
            price = Decimal(parts[2])
            if not price.is_finite() or price <= 0 or price != price.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            raise forms.ValidationError(
                _t("第 %(n)s 行的单价应为大于 0 的金额，最多两位小数。") % {"n": n}
            ) from None
        numbers: list[int | None] = []
        for part in parts[3:]:
            if part == "":
                numbers.append(None)
            elif part.isdigit() and len(part) <= 9:
                numbers.append(int(part))
            else:
                raise forms.ValidationError(
                    _t("第 %(n)s 行的库存、限购和成团数量应为整数。") % {"n": n}
                )
        numbers += [None] * (3 - len(numbers))
        specs.append(
            ItemSpec(
                name=parts[0],
                unit=parts[1],
                price_fen=int(price * 100),
                stock=numbers[0],
                per_household_max=numbers[1] or None,
                min_total=numbers[2] or 0,
            )
        )
    if not specs:
        raise forms.ValidationError(_t("至少需要一个商品。"))
    return specs


class GroupBuyForm(forms.Form):
    group = forms.ModelChoiceField(queryset=Group.objects.none(), label=_("负责小组"))
    logistics_group = forms.ModelChoiceField(
        queryset=Group.objects.none(), label=_("物流组"), required=False
    )
    title = forms.CharField(label=_("名称"), max_length=100)
    supplier_name = forms.CharField(label=_("供应商"), max_length=100)
    supplier_contact = forms.CharField(label=_("供应商联系方式"), max_length=100, required=False)
    deadline = forms.DateTimeField(label=_("截单时间"), widget=DATETIME)
    delivery_date = forms.DateField(
        label=_("预计送达日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    buildings = forms.ModelMultipleChoiceField(
        queryset=Building.objects.none(),
        label=_("覆盖楼栋"),
        widget=forms.CheckboxSelectMultiple,
    )
    items = forms.CharField(
        label=_("商品"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "每行一个商品：名称，单位，单价（元），库存，每户限购，成团数量；后三项可不填。"
            "例如：蔬菜包，份，58"
        ),
    )
    key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, groups: QuerySet[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        communities = groups.values("community_id")
        group_field = self.fields["group"]
        assert isinstance(group_field, forms.ModelChoiceField)
        group_field.queryset = groups.order_by("community_id", "name")
        logistics = self.fields["logistics_group"]
        assert isinstance(logistics, forms.ModelChoiceField)
        logistics.queryset = Group.objects.filter(community_id__in=communities).order_by("name")
        buildings = self.fields["buildings"]
        assert isinstance(buildings, forms.ModelMultipleChoiceField)
        buildings.queryset = Building.objects.filter(community_id__in=communities).order_by(
            "community_id", "name"
        )

    def clean_items(self) -> list[ItemSpec]:
        return parse_items(self.cleaned_data["items"])
