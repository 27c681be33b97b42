"""The English catalogue is complete and not stale (Chinese is the source language)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
_FORMAT = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}|%[sd]")


def parse_po(text: str) -> dict[tuple[str, str], dict[str, object]]:
    """A small reader of .po entries: (msgctxt, msgid) → {"str": [...], "fuzzy": bool}."""
    entries: dict[tuple[str, str], dict[str, object]] = {}
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.strip().splitlines() if ln and not ln.startswith("#~")]
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        fields: dict[str, str] = {}
        current = None
        for ln in lines:
            if ln.startswith("#"):
                continue
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"$', ln)
            if m:
                current = m.group(1)
                fields[current] = m.group(2)
            elif ln.startswith('"') and current:
                fields[current] += ln[1:-1]
        if "msgid" not in fields or fields["msgid"] == "":
            continue
        strs = [v for k, v in fields.items() if k.startswith("msgstr")]
        entries[(fields.get("msgctxt", ""), fields["msgid"])] = {
            "str": strs,
            "fuzzy": fuzzy,
            "plural": fields.get("msgid_plural", ""),
        }
    return entries


def test_every_string_has_an_english_translation() -> None:
    entries = parse_po(PO.read_text(encoding="utf-8"))
    assert entries, "the English catalogue is empty"
    missing = [mid for (_ctx, mid), e in entries.items() if e["fuzzy"] or not all(e["str"])]
    assert not missing, f"{len(missing)} strings lack an English translation: {missing[:20]}"


def test_translations_keep_their_placeholders() -> None:
    entries = parse_po(PO.read_text(encoding="utf-8"))
    wrong = []
    for (_ctx, mid), e in entries.items():
        want = sorted(_FORMAT.findall(mid))
        for s in e["str"]:  # type: ignore[attr-defined]
            if sorted(_FORMAT.findall(s)) != want and not e["plural"]:
                wrong.append((mid, s))
    assert not wrong, f"placeholders differ: {wrong[:10]}"


def test_english_strings_contain_no_chinese() -> None:
    entries = parse_po(PO.read_text(encoding="utf-8"))
    cjk = re.compile(r"[\u4e00-\u9fff]")
    allowed = {"中文", "简体中文"}  # the language switch names itself in its own language
    leftovers = [
        (mid, s)
        for (_ctx, mid), e in entries.items()
        for s in e["str"]  # type: ignore[attr-defined]
        if cjk.search(s) and s not in allowed
    ]
    assert not leftovers, f"Chinese left in English strings: {leftovers[:10]}"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext (xgettext) not installed")
def test_catalogue_is_not_stale(tmp_path: Path) -> None:
    """Regenerate the catalogue from the sources in a copy; its msgids must equal the committed
    ones (run `make messages` and translate the new strings when this fails)."""
    work = tmp_path / "src"
    work.mkdir()
    for name in ("huzhu", "config", "templates"):
        shutil.copytree(
            ROOT / name,
            work / name,
            ignore=shutil.ignore_patterns("__pycache__", "tests", "migrations"),
        )
    shutil.copy(ROOT / "manage.py", work / "manage.py")
    (work / "locale" / "en" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(PO, work / "locale" / "en" / "LC_MESSAGES" / "django.po")
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "en",
            "--no-location",
            "--no-obsolete",
            "-v",
            "0",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(work),
        },
    )
    fresh = parse_po((work / "locale/en/LC_MESSAGES/django.po").read_text(encoding="utf-8"))
    committed = parse_po(PO.read_text(encoding="utf-8"))
    new = sorted(mid for _c, mid in set(fresh) - set(committed))
    gone = sorted(mid for _c, mid in set(committed) - set(fresh))
    assert not new and not gone, (
        f"stale catalogue: run `make messages`. New: {new[:15]} Gone: {gone[:15]}"
    )
