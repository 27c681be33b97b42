"""Visibility enforced (acceptance 4): public documents for everybody, also without signing in;
community documents for the members of the community (404 for everybody else, the login page
without signing in); group documents for the owning group and the staff above it only — in
lists, pages and the API alike."""

from __future__ import annotations

from typing import Any

import pytest

from huzhu.documents import queries
from huzhu.documents.models import Visibility
from huzhu.documents.tests.support import other_resident, plain_resident, sop

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs(world: Any, cast: Any) -> dict[str, Any]:
    return {
        v: sop(world, cast, key=v, visibility=v, title=f"{v} SOP")
        for v in (Visibility.PUBLIC, Visibility.COMMUNITY, Visibility.GROUP)
    }


def _visible(person: Any) -> set[str]:
    return {d.visibility for d in queries.visible_documents(person)}


def test_who_sees_which_level(world: Any, cast: Any, docs: dict[str, Any]) -> None:
    everything = {"public", "community", "group"}
    assert _visible(None) == {"public"}
    assert _visible(other_resident(world)) == {"public"}
    assert _visible(cast.outsider) == {"public"}  # branch head elsewhere
    assert _visible(plain_resident(world)) == {"public", "community"}
    assert _visible(cast.resident) == {"public", "community"}
    assert _visible(cast.building_manager) == {"public", "community"}
    assert _visible(cast.group_member) == everything
    assert _visible(cast.group_leader) == everything
    assert _visible(cast.branch_head) == everything
    assert _visible(cast.district_admin) == everything
    # One-object checks agree with the list.
    for person in (cast.resident, cast.group_member, cast.outsider):
        for level, doc in docs.items():
            assert queries.may_view(person, doc) == (level in _visible(person)), (person, level)


def test_a_sub_group_document_is_seen_by_the_parent_groups_members(world: Any, cast: Any) -> None:
    from huzhu.documents import actions

    doc = actions.create_document(
        actor=cast.branch_head,
        community=world.community,
        group=world.subgroup,
        kind="job_description",
        title="电话回访员",
        visibility=Visibility.GROUP,
        body="职责",
        key="sub",
    )
    assert queries.may_view(cast.group_member, doc)  # a grant on a group covers its sub-groups
    assert not queries.may_view(cast.resident, doc)


def _status(client: Any, person: Any, url: str) -> int:
    client.logout()
    if person is not None:
        client.force_login(person)
    return int(client.get(url).status_code)


def test_pages_enforce_visibility(client: Any, world: Any, cast: Any, docs: dict[str, Any]) -> None:
    public, community, group = (docs[v] for v in ("public", "community", "group"))
    for suffix in ("", "diff/"):
        assert _status(client, None, f"/documents/{public.pk}/{suffix}") == 200
        resp = client.get(f"/documents/{community.pk}/{suffix}")
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
        assert _status(client, cast.resident, f"/documents/{community.pk}/{suffix}") == 200
        assert _status(client, cast.resident, f"/documents/{group.pk}/{suffix}") == 404
        assert _status(client, cast.outsider, f"/documents/{community.pk}/{suffix}") == 404
        assert _status(client, cast.group_member, f"/documents/{group.pk}/{suffix}") == 200
    # Writing on a document one cannot see is 404 as well, not 403.
    assert _status(client, cast.resident, f"/documents/{group.pk}/suggest/") == 404
    assert _status(client, cast.resident, f"/documents/{community.pk}/suggest/") == 200
    assert _status(client, cast.resident, f"/documents/{community.pk}/edit/") == 403
    # The list without signing in shows the public document only.
    client.logout()
    page = client.get("/documents/").content.decode()
    assert "public SOP" in page and "community SOP" not in page and "group SOP" not in page
    client.force_login(cast.resident)
    page = client.get("/documents/").content.decode()
    assert "public SOP" in page and "community SOP" in page and "group SOP" not in page


def test_api_enforces_visibility(client: Any, world: Any, cast: Any, docs: dict[str, Any]) -> None:
    group = docs["group"]
    client.force_login(cast.resident)
    listed = client.get("/api/v1/documents").json()
    assert {d["visibility"] for d in listed["items"]} == {"public", "community"}
    assert client.get(f"/api/v1/documents/{group.pk}").status_code == 404
    assert client.get(f"/api/v1/documents/{group.pk}/versions").status_code == 404
    client.force_login(cast.group_member)
    assert client.get(f"/api/v1/documents/{group.pk}").status_code == 200
    client.logout()
    assert client.get("/api/v1/documents").status_code == 401
