"""Tracking a service through the API: the tracking thread (跟踪群), evidence uploads as
multipart with the type read from the content, the evidence list with download URLs for the
thread's members only, and spot checks; every write replayed with its key does nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from huzhu.needs import actions
from huzhu.needs.models import Evidence, SpotCheck, ThreadMessage
from huzhu.needs.tests.support import (
    T0,
    accepted,
    assignment_of,
    at,
    offered,
    override,
    volunteer,
)
from huzhu.needs.tests.test_tracking import png_bytes
from huzhu.notify.models import Notification

pytestmark = pytest.mark.django_db

V1 = "/api/v1/needs"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def as_(client: Client, person: Any) -> Client:
    client.force_login(person)
    return client


def post_json(client: Client, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, body, content_type="application/json", headers=headers)


def post_file(client: Client, path: str, name: str, data: bytes, key: str = "k") -> Any:
    f = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post(path, {"file": f, "idempotency_key": key})


def test_thread_through_the_api(client: Client, cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        url = f"{V1}/{need.pk}/thread"
        r = post_json(as_(client, cast.resident), url, {"body": "请带上推子"}, key="m-1")
        assert r.status_code == 201, r.content
        first = r.json()
        assert first["author_role"] == "requester" and first["mine"] is True
        # A replay answers the first message, and nobody is told twice.
        r = post_json(client, url, {"body": "请带上推子"}, key="m-1")
        assert r.status_code == 200 and r.json()["id"] == first["id"]
        assert Notification.objects.filter(code="needs.thread.message").count() == 2
        r = post_json(as_(client, cast.volunteer), url, {"body": "好的"}, key="m-1")
        assert r.status_code == 201 and r.json()["author_role"] == "volunteer"
        r = post_json(
            as_(client, cast.building_manager), url, {"body": "收到", "idempotency_key": "m-2"}
        )
        assert r.status_code == 201 and r.json()["author_role"] == "manager"
        # Without a key: refused.
        r = post_json(client, url, {"body": "再说一句"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "api.idempotency_key.required"
        # An empty message: a clear error on the field.
        r = post_json(client, url, {"body": "  "}, key="m-3")
        assert r.status_code == 400 and r.json()["error"]["code"] == "needs.body.required"

        r = as_(client, cast.resident).get(url)
        assert r.status_code == 200
        page = r.json()
        assert page["meta"]["total"] == 3
        assert [m["body"] for m in page["items"]] == ["请带上推子", "好的", "收到"]
        assert [m["mine"] for m in page["items"]] == [True, False, False]

        r = as_(client, cast.group_member).get(url)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "needs.thread.not_member"
        assert as_(client, cast.outsider).get(url).status_code == 404
        client.logout()
        assert client.get(url).status_code == 401
    assert ThreadMessage.objects.count() == 3


def test_evidence_through_the_api(client: Client, cast: Any, world: Any) -> None:
    with at(T0):
        other = volunteer(world, "另一位志愿者", phone="13900000601")
        need = offered(cast, volunteers=[cast.volunteer, other])
        actions.accept_assignment(
            actor=cast.volunteer, assignment=assignment_of(need, cast.volunteer)
        )
        url = f"{V1}/{need.pk}/evidence"
        # Text named .jpg and declared image/jpeg: refused for what it is.
        r = post_file(as_(client, cast.volunteer), url, "photo.jpg", b"not a photo at all")
        assert r.status_code == 400
        error = r.json()["error"]
        assert error["code"] == "needs.evidence.type" and error["details"]["field"] == "file"
        # A real PNG named .jpg: accepted as a PNG.
        r = post_file(client, url, "photo.jpg", png_bytes(), key="e-1")
        assert r.status_code == 201, r.content
        body = r.json()
        assert (body["kind"], body["content_type"]) == ("photo", "image/png")
        assert body["size"] == len(png_bytes()) and body["download_url"]
        r = post_file(client, url, "photo.jpg", png_bytes(), key="e-1")
        assert r.status_code == 200 and r.json()["id"] == body["id"]
        # Over the community's limit.
        override(cast.branch_head, world, "needs.evidence_photo_max_mb", 1)
        r = post_file(client, url, "big.png", png_bytes(padding=MB + 10), key="e-2")
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "照片不能超过 1 MB，请压缩后再上传。"
        # Someone else may not upload.
        r = post_file(as_(client, cast.resident), url, "photo.png", png_bytes(), key="e-3")
        assert r.status_code == 403
        r = post_file(as_(client, cast.outsider), url, "photo.png", png_bytes(), key="e-3")
        assert r.status_code == 404

        # The list: metadata for whoever sees the need, a download URL for the thread only.
        r = as_(client, cast.resident).get(url)
        assert r.status_code == 200
        items = r.json()["items"]
        assert len(items) == 1 and items[0]["download_url"] == body["download_url"]
        r = as_(client, other).get(url)  # asked, but not the one serving
        assert r.status_code == 200 and r.json()["items"][0]["download_url"] is None
        assert as_(client, cast.group_member).get(url).status_code == 403

        # The download, for members only, with the type it was recognized as.
        r = as_(client, cast.resident).get(body["download_url"])
        assert r.status_code == 200
        assert r["Content-Type"] == "image/png"
        assert b"".join(r.streaming_content) == png_bytes()
        assert as_(client, other).get(body["download_url"]).status_code == 403
        assert as_(client, cast.outsider).get(body["download_url"]).status_code == 404
        assert as_(client, cast.resident).get(f"{V1}/evidence/999999/file").status_code == 404
    assert Evidence.objects.count() == 1


def test_spot_checks_through_the_api(client: Client, cast: Any) -> None:
    with at(T0):
        need = accepted(cast)
        url = f"{V1}/{need.pk}/spot-checks"
        body = {"method": "on_site", "result": "problem", "note": "未按时到达"}
        r = post_json(as_(client, cast.building_manager), url, body, key="s-1")
        assert r.status_code == 201, r.content
        out = r.json()
        assert (out["method_label"], out["result_label"]) == ("上门抽查", "有问题")
        r = post_json(client, url, body, key="s-1")
        assert r.status_code == 200 and r.json()["id"] == out["id"]
        r = post_json(client, url, {"method": "phone", "result": "problem"}, key="s-2")
        assert r.status_code == 400 and r.json()["error"]["code"] == "needs.note.required"
        r = post_json(as_(client, cast.volunteer), url, {"method": "phone", "result": "ok"}, "s")
        assert r.status_code == 403

        r = as_(client, cast.broker).get(url)
        assert r.status_code == 200
        assert [c["note"] for c in r.json()["items"]] == ["未按时到达"]
        assert as_(client, cast.resident).get(url).status_code == 403
        assert as_(client, cast.outsider).get(url).status_code == 404
    assert SpotCheck.objects.count() == 1
