"""Keeping phone and ID numbers out of logs and error reports.

``MaskPIIFilter`` sits on every handler in ``settings.LOGGING``: it masks mainland mobile numbers
and resident ID numbers in a record's message (arguments included), in its traceback and in its
stack. ``PIIExceptionReporterFilter`` (``DEFAULT_EXCEPTION_REPORTER_FILTER``) does the same for
error reports (the admin emails, the debug page): it hides sensitive POST fields, settings,
request headers and local variables and masks numbers in the values it still shows;
``PIIExceptionReporter`` (``DEFAULT_EXCEPTION_REPORTER``) masks the whole report's text.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

from django.http import HttpRequest, QueryDict
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Resident ID numbers: 17 digits and a digit or X (18 characters), not inside a longer number.
# Both patterns look only at digits around them (not letters), so that a number glued to a word
# is masked too; the scanner (huzhu.core.logscan) uses the same patterns.
_ID_RE = re.compile(r"(?<![0-9])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9])")
# Mainland mobile numbers, with an optional +86 / 0086 / 86 prefix and optional separators
# (138 0000 0001, 138-0000-0001), not inside a longer number.
_PHONE_RE = re.compile(
    r"(?<![0-9])((?:\+86|0086|86)[\s-]?)?(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?![0-9])"
)


def mask_text(text: str) -> str:
    """Mask every phone and ID number in free text (138****1234, 110101********123X)."""
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _PHONE_RE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)


def find_plaintext(text: str) -> list[str]:
    """The phone and ID numbers left in ``text`` (what ``mask_text`` would have masked)."""
    found = [m.group(0) for m in _ID_RE.finditer(text)]
    without_ids = _ID_RE.sub(" ", text)
    found += [m.group(0) for m in _PHONE_RE.finditer(without_ids)]
    return found


class MaskPIIFilter(logging.Filter):
    """Never drops a record; rewrites its text so that no handler sees a plaintext number."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            message = str(record.msg)
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


# POST fields, settings and headers whose values an error report never shows.
_SENSITIVE_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|PHONE|ID_NUMBER|IDNUMBER|MOBILE|"
    r"EMERGENCY|ADDRESS|USERNAME|CODE",
    flags=re.IGNORECASE,
)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    return value


class PIIExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's safe filter, also hiding PII-bearing names (phone, ID number, username — the
    login's phone — codes) and masking phone and ID numbers in every value it still shows."""

    hidden_settings = _SENSITIVE_NAMES

    def is_active(self, request: HttpRequest | None) -> bool:
        return True  # also on the debug page: a developer does not need the numbers either

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        params = super().get_post_parameters(request)
        if request is None or not params:
            return params
        cleansed = cast(QueryDict, params).copy()  # request.POST or Django's cleansed copy
        for name in cleansed:
            if _SENSITIVE_NAMES.search(name):
                cleansed[name] = self.cleansed_substitute
            else:
                cleansed.setlist(name, [_mask_value(v) for v in cleansed.getlist(name)])
        return cleansed

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        return {k: _mask_value(v) for k, v in meta.items()}

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if _SENSITIVE_NAMES.search(name) else _mask_value(v))
            for name, v in variables
        ]


class PIIExceptionReporter(ExceptionReporter):
    """Error reports (``DEFAULT_EXCEPTION_REPORTER``) with phone and ID numbers masked in the
    whole text, including the parts the filter does not see (the query string, GET, cookies)."""

    # Masking turns digits into asterisks only: what was safe HTML stays safe.
    def get_traceback_text(self) -> SafeString:
        return mark_safe(mask_text(super().get_traceback_text()))  # noqa: S308

    def get_traceback_html(self) -> SafeString:
        return mark_safe(mask_text(super().get_traceback_html()))  # noqa: S308
