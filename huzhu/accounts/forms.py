"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class PhoneLoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("手机号"), max_length=20,
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "tel",
                                      "autocomplete": "username"}))
    error_messages: Any = {
        "invalid_login": _("手机号或密码不正确。"),
        "inactive": _("该账户已停用。"),
    }
