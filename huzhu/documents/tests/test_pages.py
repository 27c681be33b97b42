"""The document pages, browser-free: the group leader writes an SOP (1.0) with a flowchart, a
resident suggests a change, the leader accepts it (2.0, credited to the resident), the history
and the diff show it; a stale save is refused on the form; empty states, search, kind filter,
paging; a document's text cannot inject markup."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.documents.models import Document, Suggestion, SuggestionState
from huzhu.documents.tests.support import SOP_V1, SOP_V2, png_bytes, sop, upload

pytestmark = pytest.mark.django_db


def _text(resp: Any) -> str:
    return str(resp.content.decode())


def test_the_main_flow_through_the_pages(client: Any, world: Any, cast: Any) -> None:
    # The group leader writes the SOP with a flowchart.
    client.force_login(cast.group_leader)
    page = _text(client.get("/documents/new/"))
    key = re.search(r'name="key" value="(\w+)"', page)
    assert key is not None
    resp = client.post(
        "/documents/new/",
        {
            "group": world.group.pk,
            "kind": "sop_prevention",
            "title": "日常防疫 SOP",
            "visibility": "community",
            "body": SOP_V1,
            "flowchart": upload(png_bytes()),
            "key": key.group(1),
        },
        follow=True,
    )
    doc = Document.objects.get()
    assert resp.redirect_chain[-1][0] == f"/documents/{doc.pk}/"
    page = _text(resp)
    assert "文档已创建（1.0 版）" in page and 'id="flowchart"' in page
    image = client.get(f"/documents/versions/{doc.versions.get().pk}/flowchart/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert b"".join(image.streaming_content) == png_bytes()

    # A resident reads it and suggests a change.
    client.force_login(cast.resident)
    page = _text(client.get(f"/documents/{doc.pk}/"))
    assert "每日两次测温" in page and 'id="document-edit"' not in page
    assert 'id="document-suggest"' in page
    form = _text(client.get(f"/documents/{doc.pk}/suggest/"))
    assert "每日两次测温" in form  # the form starts from the current text
    resp = client.post(
        f"/documents/{doc.pk}/suggest/",
        {"body": SOP_V2, "reason": "测温要上报；增加出入登记", "base_version": 1, "key": "s1"},
        follow=True,
    )
    suggestion = Suggestion.objects.get()
    page = _text(resp)
    assert "建议已提交" in page and 'id="review-card"' not in page
    assert "<ins>5. 出入登记</ins>" in page

    # The leader sees it on the document and accepts it.
    client.force_login(cast.group_leader)
    page = _text(client.get(f"/documents/{doc.pk}/"))
    assert "修改建议（1 条待处理）" in page
    page = _text(client.get(f"/documents/{doc.pk}/suggestions/"))
    assert "测温要上报" in page
    page = _text(client.get(f"/documents/suggestions/{suggestion.pk}/"))
    assert 'id="review-card"' in page
    resp = client.post(
        f"/documents/suggestions/{suggestion.pk}/decide/",
        {"decision": "accept", "note": "采纳", "based_on": 1},
        follow=True,
    )
    assert "已采纳，文档更新为 2.0 版" in _text(resp)
    suggestion.refresh_from_db()
    assert suggestion.state == SuggestionState.ACCEPTED

    # The history credits the resident; the diff shows the change.
    page = _text(client.get(f"/documents/{doc.pk}/"))
    history = page[page.index('id="history"') :]
    assert cast.resident.name in history and "采纳居民建议" in history
    assert 'id="flowchart"' in page  # carried forward to 2.0
    page = _text(client.get(f"/documents/{doc.pk}/diff/", {"from": 1, "to": 2}))
    assert "<del>1. 每日两次测温</del>" in page and "<ins>1. 每日两次测温并上报</ins>" in page
    assert "新增 2 行，删除 1 行" in page
    page = _text(client.get(f"/documents/{doc.pk}/", {"version": 1}))
    assert 'id="is-old"' in page and "并上报" not in page[page.index('id="doc-body"') :][:200]


def test_a_stale_edit_is_refused_on_the_form(client: Any, world: Any, cast: Any) -> None:
    doc = sop(world, cast)
    client.force_login(cast.group_leader)
    form = _text(client.get(f"/documents/{doc.pk}/edit/"))
    assert 'name="based_on" value="1"' in form
    first = {"body": SOP_V2, "summary": "第二版", "based_on": 1, "key": "a"}
    assert client.post(f"/documents/{doc.pk}/edit/", first).status_code == 302
    second = {"body": SOP_V1 + "\n5. 其他", "summary": "另一处修改", "based_on": 1, "key": "b"}
    resp = client.post(f"/documents/{doc.pk}/edit/", second)
    assert resp.status_code == 200
    assert "有人已保存了更新的版本（2.0）" in _text(resp)
    doc.refresh_from_db()
    assert doc.current_version == 2


def test_rejecting_needs_a_note(client: Any, world: Any, cast: Any) -> None:
    from huzhu.documents import actions

    doc = sop(world, cast)
    s = actions.suggest_change(
        actor=cast.resident, document=doc, base_version=1, body="x", reason="r", key="k"
    )
    client.force_login(cast.branch_head)
    url = f"/documents/suggestions/{s.pk}/decide/"
    resp = client.post(url, {"decision": "reject", "note": ""})
    assert resp.status_code == 400 and "此项为必填项" in _text(resp)
    resp = client.post(url, {"decision": "reject", "note": "不符合防疫要求"}, follow=True)
    assert "已标记为不采纳" in _text(resp) and "不符合防疫要求" in _text(resp)


def test_text_is_escaped(client: Any, world: Any, cast: Any) -> None:
    evil = "<script>alert(1)</script>"
    doc = sop(world, cast, body=SOP_V1 + "\n" + evil)
    from huzhu.documents import actions

    actions.publish_version(
        actor=cast.group_leader,
        document=doc,
        based_on=1,
        body=SOP_V2 + "\n<img src=x onerror=alert(2)>",
        summary="<b>bold</b>",
        key="v2",
    )
    client.force_login(cast.resident)
    for url in (
        f"/documents/{doc.pk}/",
        f"/documents/{doc.pk}/diff/",
        f"/documents/{doc.pk}/?version=1",
    ):
        page = _text(client.get(url))
        assert "<script>alert(1)" not in page and "<img src=x" not in page and "<b>bold" not in page
    page = _text(client.get(f"/documents/{doc.pk}/diff/"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_list_empty_search_filter_and_paging(
    client: Any, world: Any, cast: Any, settings: Any
) -> None:
    client.force_login(cast.resident)
    assert 'id="documents-empty"' in _text(client.get("/documents/"))
    settings.HUZHU_PAGE_SIZE = 2
    sop(world, cast, key="a", title="日常防疫 SOP")
    sop(world, cast, key="b", title="团购流程", kind="sop_group_buy", body="接龙、截单、分拣")
    sop(world, cast, key="c", title="核酸检测流程", kind="sop_testing", body="按楼层叫号")
    first = _text(client.get("/documents/"))
    assert first.count('class="inbox-item document-item"') == 2 and 'rel="next"' in first
    second = _text(client.get("/documents/", {"page": 2}))
    assert second.count('class="inbox-item document-item"') == 1
    by_kind = _text(client.get("/documents/", {"kind": "sop_testing"}))
    assert "核酸检测流程" in by_kind and "团购流程" not in by_kind
    by_body = _text(client.get("/documents/", {"q": "分拣"}))  # a word of the current text
    assert "团购流程" in by_body and "核酸检测流程" not in by_body
    none = _text(client.get("/documents/", {"q": "不存在的文字"}))
    assert "没有符合条件的文档" in none
    settings.HUZHU_PAGE_SIZE = 50
    with CaptureQueriesContext(connection) as few:
        client.get("/documents/")
    for i in range(6):
        sop(world, cast, key=f"more-{i}", title=f"文档{i}")
    with CaptureQueriesContext(connection) as many:
        page = _text(client.get("/documents/"))
    assert page.count('class="inbox-item document-item"') == 9
    assert len(many) == len(few)  # a fixed number of queries, whatever the number of rows
