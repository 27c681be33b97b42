"""Pages of people: profile, registry, reveal, roles, roster import and export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huzhu.accounts.models import Person


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    person = request.user
    assert isinstance(person, Person)
    return render(request, "accounts/profile.html", {"person": person})
