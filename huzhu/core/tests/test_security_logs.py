"""No plaintext phone or ID number in logs or error reports (issue 7, acceptance 4).

The scan of the whole suite's log file runs after pytest in ``make test``
(``python -m huzhu.core.logscan``); these tests show the filter and the scanner work.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils.module_loading import import_string
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter

from huzhu.core import logscan
from huzhu.core.logging import MaskPIIFilter, PIIExceptionReporter, find_plaintext, mask_text

PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"call {PHONE} now", "call 139****5678 now"),
        ("+86 139 1234 5678", "+86 139****5678"),
        ("8613912345678", "86139****5678"),
        ("tel:139-1234-5678;", "tel:139****5678;"),
        (f"id={ID_NUMBER}", "id=110105********002X"),
        ("id 110105194912310021.", "id 110105********0021."),
        (f"电话{PHONE}，身份证{ID_NUMBER}", "电话139****5678，身份证110105********002X"),
    ],
)
def test_mask_text_masks_phones_and_id_numbers(text, masked):
    assert mask_text(text) == masked
    assert find_plaintext(text)
    assert find_plaintext(masked) == []


@pytest.mark.parametrize(
    "text",
    [
        "order 12345678901234567890 total 1234.50",  # longer numbers are not phone numbers
        "at 2026-11-23 13:05:00 took 12039 ms",
        "12912345678",  # 12x is not a mobile prefix
        "139****5678 110105********002X",  # already masked
    ],
)
def test_other_numbers_are_left_alone(text):
    assert mask_text(text) == text
    assert find_plaintext(text) == []


def _file_logger(path: Path, name: str) -> tuple[logging.Logger, logging.Handler]:
    """A file handler with the filter exactly as settings.LOGGING installs it."""
    spec = settings.LOGGING["filters"]["pii"]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(import_string(spec["()"])())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, handler


def test_a_logged_phone_number_reaches_the_file_masked(tmp_path):
    path = tmp_path / "app.log"
    logger, handler = _file_logger(path, "huzhu.tests.pii")
    try:
        logger.info("sms to %s for person %s", PHONE, ID_NUMBER)
        logger.warning("extra args %(phone)s", {"phone": PHONE})
        try:
            raise ValueError(f"duplicate phone {PHONE}")
        except ValueError:
            logger.exception("import failed for %s", ID_NUMBER)
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert "139****5678" in text and "110105********002X" in text
    assert "duplicate phone 139****5678" in text  # the traceback is masked too
    assert PHONE not in text and ID_NUMBER not in text
    assert logscan.scan_file(path) == []


def test_every_configured_handler_masks():
    """Each handler settings.LOGGING attached (console, error mails, runserver, the suite's log
    file) carries the filter."""
    loggers = [logging.getLogger(n) for n in ("", "django", "django.server", "django.request")]
    handlers = [
        h for lg in loggers for h in lg.handlers if not type(h).__module__.startswith("_pytest")
    ]
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, MaskPIIFilter) for f in handler.filters), handler
    if settings.HUZHU_LOG_FILE:  # under `make test`
        assert any(isinstance(h, logging.FileHandler) for h in logging.getLogger().handlers)


def test_the_scanner_finds_a_planted_number(tmp_path, capsys):
    path = tmp_path / "suite.log"
    path.write_text(
        "INFO huzhu.notify sms to 139****5678\n"
        f"WARNING django.request Not Found: /people/?q={PHONE}\n"
        "INFO huzhu.x ok\n"
        f"ERROR huzhu.y id {ID_NUMBER}\n",
        encoding="utf-8",
    )
    leaks = logscan.scan_file(path)
    assert [leak.line for leak in leaks] == [2, 4]
    assert logscan.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "2 line(s)" in out and f"{path}:2" in out
    assert PHONE not in out and ID_NUMBER not in out  # the report does not repeat the leak


def test_the_scanner_passes_a_clean_file_and_fails_a_missing_one(tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text("INFO huzhu.notify sms to 139****5678\n", encoding="utf-8")
    assert logscan.main([str(clean)]) == 0
    assert logscan.main([str(tmp_path / "missing.log")]) == 2


# --- error reports -----------------------------------------------------------------------


def _failing_request():
    return RequestFactory().post(
        f"/accounts/people/new/?q={PHONE}",
        {
            "phone": PHONE,
            "id_number": ID_NUMBER,
            "password": "s3cret-pass",
            "token": "abc",
            "note": f"call {PHONE}",
        },
    )


def test_reporter_filter_hides_pii_fields_and_settings():
    request = _failing_request()
    flt = get_default_exception_reporter_filter()
    post = flt.get_post_parameters(request)
    for name in ("phone", "id_number", "password", "token"):
        assert post[name] == flt.cleansed_substitute
    assert post["note"] == "call 139****5678"
    safe = flt.get_safe_settings()
    for name in ("SECRET_KEY", "HUZHU_PII_KEYS", "HUZHU_PII_INDEX_KEY"):
        assert safe[name] == flt.cleansed_substitute
    assert flt.get_safe_request_meta(request)["QUERY_STRING"] == "q=139****5678"


def test_error_report_text_has_no_plaintext_numbers():
    request = _failing_request()
    phone = PHONE  # a local variable in the traceback
    try:
        raise RuntimeError(f"could not save {phone}")
    except RuntimeError:
        exc_type, exc, tb = sys.exc_info()
    reporter_class = import_string(settings.DEFAULT_EXCEPTION_REPORTER)
    assert reporter_class is PIIExceptionReporter
    reporter: ExceptionReporter = reporter_class(request, exc_type, exc, tb)
    for text in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "could not save 139****5678" in text
        assert find_plaintext(text) == [], find_plaintext(text)
