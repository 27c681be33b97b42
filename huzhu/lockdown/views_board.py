"""The status board pages (楼栋状态板): my building's board, and for staff the buildings of the
community to pick one. Anyone of the community sees any of its buildings' boards (the board
shows nothing private: counts, notices already public, masked contacts); outside it, 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from huzhu.lockdown import board as boards
from huzhu.lockdown.views import _actor
from huzhu.orgs.models import Building


@login_required
def board_home(request: HttpRequest) -> HttpResponse:
    """楼栋状态: a resident goes straight to their building's board; anyone else picks one of
    their community's buildings (searchable, paged)."""
    actor = _actor(request)
    household = actor.household
    if household is not None and "all" not in request.GET:
        return redirect("lockdown:building_board", pk=household.building_id)
    if actor.community_id is None:
        qs = Building.objects.none()
    else:
        qs = Building.objects.filter(community_id=actor.community_id)
    q = request.GET.get("q", "").strip()[:50]
    if q:
        qs = qs.filter(name__icontains=q)
    page = Paginator(qs.order_by("name", "pk"), settings.HUZHU_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "lockdown/board_home.html", {"page": page, "q": q})


@login_required
def building_board(request: HttpRequest, pk: int) -> HttpResponse:
    """One building's status board."""
    building = boards.building_for(_actor(request), pk)
    board = boards.building_board(building)
    rows = [{"line": line, "text": boards.describe_group_buy(line)} for line in board.group_buys]
    return render(request, "lockdown/building_board.html", {"board": board, "group_buy_rows": rows})


urlpatterns = [
    path("board/", board_home, name="board_home"),
    path("buildings/<int:pk>/board/", building_board, name="building_board"),
]
