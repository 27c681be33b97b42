"""Forms of tracking a need on its page: a message in the tracking thread (跟踪群), a photo or
video of the service (服务凭证), a manager's spot check (抽查). Each carries a hidden key made
when the page is drawn, so pressing the button twice writes once (the actions' idempotency
keys). The file's type and size are checked by the action (from its first bytes), not here."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from huzhu.needs.models import SpotCheckMethod, SpotCheckResult

__all__ = ["EvidenceForm", "MessageForm", "SpotCheckForm"]

# What the file picker offers (the action decides from the content, whatever the picker says).
ACCEPT = "image/jpeg,image/png,image/webp,video/mp4,video/quicktime"


def _key() -> forms.CharField:
    return forms.CharField(required=False, max_length=128, widget=forms.HiddenInput)


class _Keyed(forms.Form):
    # Ids of their own: the need's page holds several forms with fields of the same name.
    id_format = "id_%s"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", self.id_format)
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4().hex)


class MessageForm(_Keyed):
    id_format = "thread_%s"

    body = forms.CharField(
        label=_("留言"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("请输入消息内容。"),
            "max_length": _("消息不能超过 2000 字。"),
        },
    )
    key = _key()


class EvidenceForm(_Keyed):
    id_format = "evidence_%s"

    file = forms.FileField(
        label=_("照片或视频"),
        help_text=_("JPEG、PNG、WebP 照片或 MP4、MOV 视频"),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        error_messages={
            "required": _("请选择要上传的照片或视频。"),
            "empty": _("文件是空的，请重新选择。"),
            "invalid": _("没有收到文件，请重新选择。"),
            "missing": _("没有收到文件，请重新选择。"),
            "max_length": _("文件名太长，请改名后再上传。"),
        },
    )
    key = _key()


class SpotCheckForm(_Keyed):
    id_format = "spot_check_%s"

    method = forms.ChoiceField(
        label=_("抽查方式"),
        choices=SpotCheckMethod.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择抽查方式。"),
            "invalid_choice": _("抽查方式只能是电话抽查或上门抽查。"),
        },
    )
    result = forms.ChoiceField(
        label=_("抽查结果"),
        choices=SpotCheckResult.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择抽查结果。"),
            "invalid_choice": _("抽查结果只能是正常或有问题。"),
        },
    )
    note = forms.CharField(
        label=_("说明"),
        required=False,
        max_length=500,
        help_text=_("发现问题时必填"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": _("说明不能超过 500 字。")},
    )
    key = _key()
