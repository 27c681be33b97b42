"""Fixtures of the orgs tests: API calls with a bearer token per cast member."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """``api(person, "get", "/api/v1/...", body)`` → response; ``person=None`` is anonymous."""
    from huzhu.accounts.auth import issue_token

    tokens: dict[int, str] = {}

    def call(person: Any, method: str, path: str, body: Any = None) -> Any:
        headers: dict[str, str] = {}
        if person is not None:
            if person.pk not in tokens:
                tokens[person.pk] = issue_token(person)
            headers["Authorization"] = f"Bearer {tokens[person.pk]}"
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method.lower())(path, **kwargs)

    return call


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    def as_(person: Any) -> Client:
        client.force_login(person)
        return client

    return as_
