"""Pages of the kernel: the home page per role and the large-text switch."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from huzhu.accounts.models import Person


def safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or fallback
    if not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return fallback
    return target


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """One home per role: the cards shown depend on the person's grants."""
    from huzhu.accounts.queries import home_cards

    person = request.user
    assert isinstance(person, Person)
    context: dict[str, Any] = {"cards": home_cards(person)}
    return render(request, "core/home.html", context)


@require_POST
def toggle_large_text(request: HttpRequest) -> HttpResponse:
    """Large-text mode for elderly users; kept in a cookie and on the profile."""
    on = request.COOKIES.get("huzhu_large_text") != "1"
    response = HttpResponseRedirect(safe_next(request))
    response.set_cookie(
        "huzhu_large_text",
        "1" if on else "0",
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=request.is_secure(),
    )
    person = request.user
    if isinstance(person, Person) and person.is_authenticated and person.large_text != on:
        from huzhu.accounts.actions import update_person

        update_person(actor=person, person=person, large_text=on)
    return response
