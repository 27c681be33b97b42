"""Forms of the notify pages. They parse and bound input; the rules live in
huzhu.notify.actions and huzhu.notify.audience (scope is checked there, not here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.accounts.models import Role, Weekday
from huzhu.notify.models import Broadcast, BroadcastStatus, Channel, ReplyKind, Visibility
from huzhu.orgs.forms import add_domain_error

__all__ = [
    "BroadcastFilterForm",
    "BroadcastForm",
    "PreferencesForm",
    "ReplyForm",
    "ResendForm",
    "add_domain_error",
]

BROADCAST_CHANNELS = [
    (Channel.SMS.value, Channel.SMS.label),
    (Channel.EMAIL.value, Channel.EMAIL.label),
    (Channel.WECOM.value, Channel.WECOM.label),
    (Channel.WEBPUSH.value, Channel.WEBPUSH.label),
]
# A person's own channels: WeCom is a group robot, not a personal channel.
PERSONAL_CHANNELS = [
    (Channel.SMS.value, Channel.SMS.label),
    (Channel.EMAIL.value, Channel.EMAIL.label),
    (Channel.WEBPUSH.value, Channel.WEBPUSH.label),
]


def _datetime_field(label: Any, help_text: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class IdsField(forms.MultipleChoiceField):
    """Checkboxes of the nodes offered; any id is accepted here, because whether the sender
    may reach it is decided by the action (404 outside scope, 403 without permission)."""

    widget = forms.CheckboxSelectMultiple

    def valid_value(self, value: str) -> bool:
        return str(value).isdigit()

    def clean(self, value: Any) -> list[int]:
        cleaned = super().clean(value)
        return sorted({int(v) for v in cleaned})


class RootField(forms.ChoiceField):
    """``c<pk>`` (a community) or ``a<pk>`` (a whole alliance); any such value parses."""

    def valid_value(self, value: str) -> bool:
        return len(value) > 1 and value[0] in "ca" and value[1:].isdigit()


class BroadcastForm(forms.Form):
    """Compose a broadcast: the message, the reply it asks for, the audience, the schedule."""

    title = forms.CharField(label=_("标题"), max_length=200)
    body = forms.CharField(
        label=_("内容"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("站内信显示全文；短信等渠道可能只显示开头部分。"),
    )
    visibility = forms.ChoiceField(
        label=_("公开范围"),
        choices=Visibility.choices,
        initial=Visibility.INTERNAL,
        help_text=_("“公开”的广播发送后会出现在社区公告页上，任何人无需登录即可查看。"),
    )
    urgent = forms.BooleanField(
        label=_("紧急"), required=False, help_text=_("紧急消息不受接收人免打扰时段限制。")
    )
    channels = forms.MultipleChoiceField(
        label=_("同时通过以下渠道发送"),
        required=False,
        choices=BROADCAST_CHANNELS,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("站内信总是发送；其他渠道按接收人的偏好发送。"),
    )
    reply_kind = forms.ChoiceField(
        label=_("回复方式"), choices=ReplyKind.choices, initial=ReplyKind.NONE
    )
    reply_choices = forms.CharField(
        label=_("选项"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("回复方式为“单选”时填写，每行一个选项。"),
    )
    reply_deadline = _datetime_field(_("回复截止"), _("可选；截止后不能再回复。"))
    scheduled_at = _datetime_field(_("定时发送"), _("可选；留空则立即发送。"))
    # --- audience
    saved_audience = forms.TypedChoiceField(
        label=_("常用接收对象"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("选择后将使用保存的条件，下面的条件不再生效。"),
    )
    root = RootField(label=_("社区"), required=False)
    buildings = IdsField(label=_("楼栋"), required=False, help_text=_("不选则为全部楼栋。"))
    groups = IdsField(
        label=_("职能组"), required=False, help_text=_("含下级小组；不选则不按职能组筛选。")
    )
    roles = forms.MultipleChoiceField(
        label=_("角色"),
        required=False,
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选则不按角色筛选。"),
    )
    skills = IdsField(label=_("技能"), required=False)
    weekday = forms.TypedChoiceField(
        label=_("在以下星期有空"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("（不限）")), *Weekday.choices],
    )
    time_from = forms.TimeField(
        label=_("有空开始"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    time_to = forms.TimeField(
        label=_("有空结束"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    save_as = forms.CharField(
        label=_("保存为常用对象"),
        required=False,
        max_length=100,
        help_text=_("填写名称后点击“保存为常用对象”，以后可直接选用这组条件。"),
    )

    MESSAGE_FIELDS = (
        "title",
        "body",
        "visibility",
        "urgent",
        "channels",
        "reply_kind",
        "reply_choices",
        "reply_deadline",
        "scheduled_at",
    )
    AUDIENCE_FIELDS = (
        "saved_audience",
        "root",
        "buildings",
        "groups",
        "roles",
        "skills",
        "weekday",
        "time_from",
        "time_to",
        "save_as",
    )

    def __init__(
        self,
        *args: Any,
        roots: list[tuple[str, str]],
        buildings: list[tuple[int, str]],
        groups: list[tuple[int, str]],
        skills: list[tuple[int, str]],
        saved: list[tuple[int, str]],
        root_selected: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["root"].choices = roots  # type: ignore[attr-defined]
        self.fields["buildings"].choices = buildings  # type: ignore[attr-defined]
        self.fields["groups"].choices = groups  # type: ignore[attr-defined]
        self.fields["skills"].choices = skills  # type: ignore[attr-defined]
        self.fields["saved_audience"].choices = [  # type: ignore[attr-defined]
            ("", _("（不使用）")),
            *saved,
        ]
        if not saved:
            del self.fields["saved_audience"]
        if not skills:
            del self.fields["skills"]
        if root_selected:  # nothing to narrow to in this community
            for name, offered in (("buildings", buildings), ("groups", groups)):
                if not offered:
                    del self.fields[name]
        if len(roots) == 1:
            self.fields["root"].initial = roots[0][0]

    def message_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.MESSAGE_FIELDS if name in self.fields]

    def audience_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.AUDIENCE_FIELDS if name in self.fields]

    def clean_reply_choices(self) -> list[str]:
        raw = str(self.cleaned_data.get("reply_choices") or "")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def audience(self) -> dict[str, Any]:
        """The audience spec as typed (a saved audience is resolved by the view)."""
        data = self.cleaned_data
        root = str(data.get("root") or "")
        spec: dict[str, Any] = {
            "buildings": data.get("buildings") or [],
            "groups": data.get("groups") or [],
            "roles": data.get("roles") or [],
            "skills": data.get("skills") or [],
            "weekday": data.get("weekday"),
            "time_from": _hm(data.get("time_from")),
            "time_to": _hm(data.get("time_to")),
        }
        if root.startswith("a"):
            spec["alliance"] = int(root[1:])
        elif root.startswith("c"):
            spec["community"] = int(root[1:])
        return spec


def _hm(value: dt.time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


class ReplyForm(forms.Form):
    """The answer to a broadcast, shaped by its reply kind."""

    def __init__(self, *args: Any, broadcast: Broadcast, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = broadcast.reply_kind
        field: forms.Field
        if kind == ReplyKind.YES_NO:
            field = forms.ChoiceField(
                label=_("您的回复"), choices=[("yes", _("是")), ("no", _("否"))]
            )
        elif kind == ReplyKind.CHOICE:
            field = forms.ChoiceField(
                label=_("您的选择"),
                choices=[(c, c) for c in broadcast.reply_choices],
                widget=forms.RadioSelect,
            )
        elif kind == ReplyKind.NUMBER:
            field = forms.DecimalField(
                label=_("数字"),
                max_digits=24,
                decimal_places=6,
                widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
            )
        else:
            field = forms.CharField(
                label=_("您的回复"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
            )
        self.fields["value"] = field

    def value(self) -> str:
        return str(self.cleaned_data["value"])


class ResendForm(forms.Form):
    which = forms.ChoiceField(
        choices=[("unread", _("未读者")), ("unreplied", _("未回复者"))],
    )


class BroadcastFilterForm(forms.Form):
    q = forms.CharField(label=_("标题"), required=False, max_length=50)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), *BroadcastStatus.choices]
    )
    mine = forms.BooleanField(label=_("只看我发的"), required=False)


def _rank_field(label: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("不使用")), (1, _("首选")), (2, _("第二")), (3, _("第三"))],
    )


class PreferencesForm(forms.Form):
    """My channels beyond the inbox, in order of preference, and my quiet hours."""

    rank_sms = _rank_field(Channel.SMS.label)
    rank_email = _rank_field(Channel.EMAIL.label)
    rank_webpush = _rank_field(Channel.WEBPUSH.label)
    email = forms.EmailField(
        label=_("邮箱"), required=False, help_text=_("选择邮件通知时必填；加密保存。")
    )
    quiet_start = forms.TimeField(
        label=_("免打扰开始"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("免打扰结束"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("可跨午夜，例如 22:00 到 07:00。紧急消息不受免打扰限制。"),
    )

    RANKS = (
        ("rank_sms", Channel.SMS.value),
        ("rank_email", Channel.EMAIL.value),
        ("rank_webpush", Channel.WEBPUSH.value),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ranks = [data.get(name) for name, _ch in self.RANKS if data.get(name) is not None]
        if len(ranks) != len(set(ranks)):
            raise forms.ValidationError(_("每个顺序只能给一个渠道。"), code="rank")
        return data

    def channels(self) -> list[str]:
        ranked = [
            (self.cleaned_data[name], ch)
            for name, ch in self.RANKS
            if self.cleaned_data.get(name) is not None
        ]
        return [ch for _rank, ch in sorted(ranked)]

    @classmethod
    def initial_from(cls, channels: list[str]) -> dict[str, Any]:
        by_channel = {ch: i + 1 for i, ch in enumerate(channels)}
        return {name: by_channel.get(ch) for name, ch in cls.RANKS}
