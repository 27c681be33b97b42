"""No asset comes from the network at run time: no CDN in any page or the API docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//""", re.I)


@pytest.mark.django_db
def test_api_docs_serve_their_own_assets(client: Any) -> None:
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "swagger" in html.lower()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)


def test_no_template_loads_from_the_network() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if EXTERNAL.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders
