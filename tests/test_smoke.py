import pytest

pytestmark = pytest.mark.django_db


def test_login_by_phone_reaches_home(client, cast):
    from conftest import PASSWORD

    resp = client.post("/accounts/login/", {"username": "138 0000 0007", "password": PASSWORD})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
