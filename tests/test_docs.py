"""Documents that must stay true to the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_permissions_doc_matches_policy() -> None:
    table = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "permissions_doc.py")],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    doc = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert table in doc, "docs/permissions.md is stale: paste scripts/permissions_doc.py output"


def test_every_setting_variable_is_documented() -> None:
    settings_src = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    import re

    names = set(re.findall(r'env(?:_bool)?\("([A-Z_]+)"', settings_src)) | {"DATABASE_URL"}
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert names
    for name in names:
        assert f"`{name}`" in doc, f"{name} missing from docs/configuration.md"
        assert f"{name}=" in example, f"{name} missing from .env.example"
