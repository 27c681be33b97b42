"""Fixtures of the accounts tests: a small skill taxonomy and helpers to act as someone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def skills(db: Any) -> dict[str, Any]:
    from huzhu.accounts.models import Skill

    return {
        "doctor": Skill.objects.create(
            code="doctor",
            name="医生",
            name_en="Doctor",
            category="医疗",
            requires_certificate=True,
        ),
        "cooking": Skill.objects.create(
            code="cooking", name="做饭", name_en="Cooking", category="生活"
        ),
        "repair": Skill.objects.create(
            code="repair", name="家电维修", name_en="Repairs", category="生活"
        ),
    }


@pytest.fixture
def as_(client: Client) -> Callable[[Any], Client]:
    """``as_(cast.branch_head)`` returns the test client logged in as that person."""

    def login(person: Any) -> Client:
        client.force_login(person)
        return client

    return login


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, "get", "/api/v1/people", ...)``: a request with a bearer token."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(person: Any, method: str, path: str, data: Any = None, **extra: Any) -> Any:
        if person.pk not in tokens:
            tokens[person.pk] = issue_token(person)
        headers = {"Authorization": f"Bearer {tokens[person.pk]}"}
        fn = getattr(client, method.lower())
        if method.lower() in ("post", "patch", "put", "delete") and data is not None:
            return fn(path, data=data, content_type="application/json", headers=headers, **extra)
        return fn(path, data=data, headers=headers, **extra)

    return call


def make_person(community: Any, phone: str, name: str, household: Any = None, **fields: Any) -> Any:
    """A plain resident, created without an actor (like the system or a fixture)."""
    from huzhu.accounts.actions import create_person

    return create_person(
        actor=None,
        community=community,
        household=household,
        name=name,
        phone=phone,
        audit=False,
        **fields,
    )
