"""Forms of the accounts pages. They parse input; the rules live in huzhu.accounts.actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from huzhu.accounts import policy
from huzhu.accounts.actions import LANGUAGE_CODES
from huzhu.accounts.models import (
    Gender,
    Household,
    Person,
    Role,
    ScopeKind,
    Skill,
    Status,
    Weekday,
)
from huzhu.orgs.models import Alliance, Building, Community, Group

# Languages a person speaks (for matching helpers to elderly residents); codes of actions.
LANGUAGE_CHOICES: list[tuple[str, Any]] = [
    ("zh", _("普通话")),
    ("yue", _("粤语")),
    ("wuu", _("吴语（上海话等）")),
    ("nan", _("闽南语")),
    ("en", _("英语")),
    ("ja", _("日语")),
    ("ko", _("韩语")),
    ("fr", _("法语")),
    ("de", _("德语")),
    ("ru", _("俄语")),
    ("bo", _("藏语")),
    ("ug", _("维吾尔语")),
    ("mn", _("蒙古语")),
]
assert {code for code, _label in LANGUAGE_CHOICES} == LANGUAGE_CODES

# Roles a manager may give when registering someone; other roles go through "授予角色".
REGISTRATION_ROLES = [
    (Role.RESIDENT.value, Role.RESIDENT.label),
    (Role.VOLUNTEER.value, Role.VOLUNTEER.label),
]

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class PhoneLoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autofocus": True, "inputmode": "tel", "autocomplete": "username"}
        ),
    )
    error_messages: Any = {
        "invalid_login": _("手机号或密码不正确。"),
        "inactive": _("该账户已停用。"),
    }


def interface_language_choices() -> list[tuple[str, Any]]:
    return [(code, label) for code, label in settings.LANGUAGES]


class ProfileForm(forms.Form):
    """What a person edits about themself."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    gender = forms.ChoiceField(label=_("性别"), choices=Gender.choices)
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=DATE)
    emergency_contact = forms.CharField(
        label=_("紧急联系人"),
        max_length=200,
        required=False,
        help_text=_("姓名、关系和电话，例如：李四（儿子）13900000000"),
    )
    languages = forms.MultipleChoiceField(
        label=_("会说的语言"),
        choices=LANGUAGE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    latitude = forms.DecimalField(
        label=_("纬度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=-90,
        max_value=90,
        help_text=_("留空则使用所在楼栋的位置"),
    )
    longitude = forms.DecimalField(
        label=_("经度"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
    )
    preferred_language = forms.ChoiceField(label=_("界面语言"), choices=())
    large_text = forms.BooleanField(label=_("大字模式"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].choices = interface_language_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(_("纬度和经度须同时填写，或同时留空。"))
        return data


class SlotForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("星期"), choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(label=_("开始"), widget=TIME)
    end_time = forms.TimeField(label=_("结束"), widget=TIME)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and end <= start:
            self.add_error("end_time", _("结束时间必须晚于开始时间。"))
        return data


class ExceptionKind:
    AWAY_DAY = "away_day"
    AWAY_HOURS = "away_hours"
    EXTRA_HOURS = "extra_hours"

    choices: list[tuple[str, Any]] = [
        (AWAY_DAY, _("全天不可服务")),
        (AWAY_HOURS, _("部分时段不可服务")),
        (EXTRA_HOURS, _("额外可服务时段")),
    ]


class AvailabilityExceptionForm(forms.Form):
    date = forms.DateField(label=_("日期"), widget=DATE)
    kind = forms.ChoiceField(label=_("类型"), choices=ExceptionKind.choices)
    start_time = forms.TimeField(label=_("开始"), required=False, widget=TIME)
    end_time = forms.TimeField(label=_("结束"), required=False, widget=TIME)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        start, end = data.get("start_time"), data.get("end_time")
        if kind == ExceptionKind.AWAY_DAY:
            data["start_time"] = data["end_time"] = None
        elif kind in (ExceptionKind.AWAY_HOURS, ExceptionKind.EXTRA_HOURS):
            if start is None:
                self.add_error("start_time", _("请填写开始时间。"))
            if end is None:
                self.add_error("end_time", _("请填写结束时间。"))
        data["available"] = kind == ExceptionKind.EXTRA_HOURS
        return data


class SkillForm(forms.Form):
    skill = forms.ModelChoiceField(label=_("技能"), queryset=Skill.objects.none())
    level = forms.TypedChoiceField(
        label=_("水平"),
        coerce=int,
        choices=[(n, str(n)) for n in range(1, 6)],
        initial=1,
        help_text=_("1 入门 – 5 专家"),
    )
    certificate_number = forms.CharField(
        label=_("证书编号"),
        max_length=64,
        required=False,
        help_text=_("医生、心理咨询师、社工等须登记资格证书"),
    )
    certificate_issuer = forms.CharField(label=_("发证机构"), max_length=100, required=False)
    certificate_valid_until = forms.DateField(label=_("有效期至"), required=False, widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["skill"].queryset = Skill.objects.order_by(  # type: ignore[attr-defined]
            "category", "code"
        )
        self.fields["skill"].label_from_instance = _skill_label  # type: ignore[attr-defined]


def _skill_label(skill: Skill) -> str:
    label = f"{skill.category} · {skill}" if skill.category else str(skill)
    if skill.requires_certificate:
        return str(_("%(label)s（需证书）") % {"label": label})
    return label


class PersonFilterForm(forms.Form):
    """The registry's query string. Nodes are ids; the view checks they are in scope."""

    q = forms.CharField(label=_("姓名或手机号"), max_length=50, required=False)
    community = forms.IntegerField(label=_("社区"), required=False, min_value=1)
    building = forms.IntegerField(label=_("楼栋"), required=False, min_value=1)
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", ""), *Role.choices])
    skill = forms.IntegerField(label=_("技能"), required=False, min_value=1)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", ""), *Status.choices])


def manageable_households(actor: Person, community: Community | None = None) -> QuerySet[Household]:
    households = policy.visible_to(actor, "accounts.manage_person", Household.objects.all())
    if community is not None:
        households = households.filter(community=community)
    return households.select_related("building", "community").order_by(
        "community_id", "building_id", "room"
    )


class PersonCreateForm(forms.Form):
    """A branch head or building manager registers a person."""

    community = forms.ModelChoiceField(label=_("社区"), queryset=Community.objects.none())
    household = forms.ModelChoiceField(
        label=_("住户"),
        queryset=Household.objects.none(),
        required=False,
        help_text=_("楼长只能在本楼住户中登记"),
    )
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    gender = forms.ChoiceField(label=_("性别"), choices=Gender.choices, initial=Gender.UNSPECIFIED)
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=DATE)
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    emergency_contact = forms.CharField(label=_("紧急联系人"), max_length=200, required=False)
    languages = forms.MultipleChoiceField(
        label=_("会说的语言"),
        choices=LANGUAGE_CHOICES,
        required=False,
        initial=["zh"],
        widget=forms.CheckboxSelectMultiple,
    )
    roles = forms.MultipleChoiceField(
        label=_("角色"),
        choices=REGISTRATION_ROLES,
        required=False,
        initial=[Role.RESIDENT.value],
        widget=forms.CheckboxSelectMultiple,
    )
    password = forms.CharField(
        label=_("初始密码"),
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("可留空：留空则暂不能登录，之后可重置密码"),
    )

    def __init__(self, *args: Any, actor: Person, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        households = manageable_households(actor)
        communities = Community.objects.filter(
            Q(pk__in=policy.communities_for(actor, "accounts.manage_person").values("pk"))
            | Q(pk__in=households.values("community_id"))
        ).order_by("id")
        self.fields["community"].queryset = communities  # type: ignore[attr-defined]
        self.fields["household"].queryset = households  # type: ignore[attr-defined]

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password") or ""
        if password:
            password_validation.validate_password(password)
        return password

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        community: Community | None = data.get("community")
        household: Household | None = data.get("household")
        if community is None:
            return data
        if household is not None and household.community_id != community.pk:
            self.add_error("household", _("住户不属于该社区。"))
        elif household is None and not policy.can(self.actor, "accounts.manage_person", community):
            self.add_error("household", _("请选择您负责楼栋中的住户。"))
        if not data.get("roles"):
            data["roles"] = [Role.RESIDENT.value]
        return data


class PersonEditForm(forms.Form):
    """A manager edits someone's record. PII fields start empty: blank keeps the stored value,
    so that the page never shows them in clear."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    gender = forms.ChoiceField(label=_("性别"), choices=Gender.choices)
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=DATE)
    household = forms.ModelChoiceField(
        label=_("住户"), queryset=Household.objects.none(), required=False
    )
    phone = forms.CharField(
        label=_("新手机号"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("留空则不修改"),
    )
    id_number = forms.CharField(
        label=_("新身份证号"),
        max_length=18,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("留空则不修改"),
    )
    emergency_contact = forms.CharField(
        label=_("新紧急联系人"),
        max_length=200,
        required=False,
        help_text=_("留空则不修改"),
    )
    languages = forms.MultipleChoiceField(
        label=_("会说的语言"),
        choices=LANGUAGE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, actor: Person, person: Person, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        households = manageable_households(actor, person.community)
        if person.household_id is not None:
            households = households | Household.objects.filter(
                pk=person.household_id
            ).select_related("building", "community")
        self.fields["household"].queryset = households.distinct()  # type: ignore[attr-defined]
        self.fields["phone"].widget.attrs["placeholder"] = person.masked_phone
        self.fields["id_number"].widget.attrs["placeholder"] = person.masked_id_number
        self.fields["emergency_contact"].widget.attrs["placeholder"] = (
            person.masked_emergency_contact
        )

    def changes(self) -> dict[str, Any]:
        """The keyword arguments for update_person: blank PII fields are left out."""
        data = self.cleaned_data
        out: dict[str, Any] = {
            "name": data["name"],
            "gender": data["gender"],
            "birth_date": data.get("birth_date"),
            "household": data.get("household"),
            "languages": data.get("languages") or [],
        }
        for field in ("phone", "id_number", "emergency_contact"):
            if data.get(field):
                out[field] = data[field]
        return out


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=Status.choices)
    until = forms.DateTimeField(
        label=_("截止时间"),
        required=False,
        widget=DATETIME,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        help_text=_("留空表示直到手动恢复"),
    )
    reason = forms.CharField(
        label=_("原因"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class RevealForm(forms.Form):
    field = forms.ChoiceField(
        choices=[
            ("phone", _("手机号")),
            ("id_number", _("身份证号")),
            ("emergency_contact", _("紧急联系人")),
        ]
    )


class GrantForm(forms.Form):
    """Grant a role on a node of the person's community (or the alliance, for district admins).

    ``scope`` is "kind:id"; the choices are the nodes where the actor holds accounts.grant_role.
    """

    role = forms.ChoiceField(label=_("角色"), choices=())
    scope = forms.ChoiceField(label=_("范围"), choices=())

    def __init__(self, *args: Any, actor: Person, person: Person, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nodes: dict[str, Any] = {}
        choices: list[tuple[str, str]] = []
        community = person.community
        if community is not None:
            alliance = community.alliance
            if policy.can(actor, "accounts.grant_role", alliance):
                self._add(choices, ScopeKind.ALLIANCE, alliance)
            if policy.can(actor, "accounts.grant_role", community):
                self._add(choices, ScopeKind.COMMUNITY, community)
            for building in policy.visible_to(
                actor,
                "accounts.grant_role",
                Building.objects.filter(community=community).select_related("community"),
            ):
                self._add(choices, ScopeKind.BUILDING, building)
            for group in policy.visible_to(
                actor,
                "accounts.grant_role",
                Group.objects.filter(community=community).select_related("community"),
            ):
                self._add(choices, ScopeKind.GROUP, group)
        self.fields["scope"].choices = choices  # type: ignore[attr-defined]
        self.fields["role"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in Role.choices if value in grantable_roles(actor)
        ]

    def _add(self, choices: list[tuple[str, str]], kind: str, node: Any) -> None:
        key = f"{kind}:{node.pk}"
        self.nodes[key] = node
        kind_label = ScopeKind(kind).label
        choices.append((key, f"{kind_label} · {node}"))

    def node(self) -> Alliance | Community | Building | Group:
        node: Alliance | Community | Building | Group = self.nodes[self.cleaned_data["scope"]]
        return node


def grantable_roles(actor: Person) -> set[str]:
    if actor.is_superuser:
        return set(Role.values)
    allowed: set[str] = set()
    for role in policy.roles_of(actor):
        allowed |= policy.GRANTABLE_BY.get(role, frozenset())
    return allowed
