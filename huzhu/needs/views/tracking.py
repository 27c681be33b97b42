"""Tracking a need on its page (DOMAIN.md "The core loop" 4.–6.): the tracking thread (跟踪群)
where the resident, the volunteer and the managers write, the photos and videos of the service
(服务凭证) uploaded by the volunteer (or a manager) and downloaded by the thread's members only,
and the manager's spot checks (抽查). The page shows them (huzhu.needs.views._common); these
views take the posts and serve the files, through the same actions as the JSON API
(huzhu.needs.api.tracking).

Who may: the thread's members post and download (404 outside their scope, 403 inside it); the
serving volunteer or a manager ("needs.manage") uploads; a manager records a spot check. A
refused file or a broken rule shows on the form, in the reader's language."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from huzhu.accounts.models import Person
from huzhu.core.errors import DomainError
from huzhu.needs import actions, states
from huzhu.needs.actions.common import authorize
from huzhu.needs.actions.tracking import MANAGE, holding_assignment
from huzhu.needs.api.common import load_need, visible_need
from huzhu.needs.forms.tracking import EvidenceForm, MessageForm, SpotCheckForm
from huzhu.needs.models import Evidence, Need
from huzhu.needs.views._common import actor_of, render_detail, succeeded


def _back(need: Need, anchor: str) -> HttpResponse:
    return redirect(reverse("needs:need_detail", args=[need.pk]) + f"#{anchor}")


def _refused(exc: DomainError) -> PermissionDenied:
    return PermissionDenied(exc.code)


def _member(actor: Person, need: Need) -> str:
    """The actor's role in the thread: 404 outside their scope, 403 inside it."""
    try:
        return actions.require_member(actor, need)
    except DomainError as exc:
        raise _refused(exc) from None


def _may(actor: Person, need: Need, parties: tuple[str, ...]) -> None:
    try:
        authorize(actor, parties, need, holding_assignment(need))
    except DomainError as exc:
        raise _refused(exc) from None


@require_POST
@login_required
def need_message(request: HttpRequest, pk: int) -> HttpResponse:
    """Write in the tracking thread; the other members are told."""
    actor = actor_of(request)
    need = load_need(pk)
    _member(actor, need)
    form = MessageForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.post_message(
            actor=actor, need=need, body=form.cleaned_data["body"], key=form.cleaned_data["key"]
        ),
    ):
        messages.success(request, _("消息已发送。"))
        return _back(need, "thread")
    return render_detail(request, visible_need(actor, pk), message_form=form)


@require_POST
@login_required
def need_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload a photo or video of the service (the serving volunteer, or a manager)."""
    actor = actor_of(request)
    need = load_need(pk)
    _may(actor, need, (states.VOLUNTEER, MANAGE))
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.upload_evidence(
            actor=actor, need=need, file=form.cleaned_data["file"], key=form.cleaned_data["key"]
        ),
    ):
        messages.success(request, _("服务凭证已上传。"))
        return _back(need, "evidence")
    return render_detail(request, visible_need(actor, pk), evidence_form=form)


@require_POST
@login_required
def need_spot_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a spot check by phone or on site (a manager with "needs.manage")."""
    actor = actor_of(request)
    need = load_need(pk)
    _may(actor, need, (MANAGE,))
    form = SpotCheckForm(request.POST)
    if form.is_valid() and succeeded(
        form,
        lambda: actions.record_spot_check(
            actor=actor,
            need=need,
            method=form.cleaned_data["method"],
            result=form.cleaned_data["result"],
            note=form.cleaned_data["note"],
            key=form.cleaned_data["key"],
        ),
    ):
        messages.success(request, _("抽查记录已保存。"))
        return _back(need, "spot-checks")
    return render_detail(request, visible_need(actor, pk), spot_check_form=form)


@require_GET
@login_required
def evidence_file(request: HttpRequest, pk: int) -> FileResponse:
    """A photo or video of the service, for the members of the need's thread only; shown in
    the page (thumbnails), or saved with ``?download=1``."""
    actor = actor_of(request)
    evidence = get_object_or_404(Evidence, pk=pk)
    _member(actor, load_need(evidence.need_id))
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        content_type=evidence.content_type,
        as_attachment=request.GET.get("download") == "1",
        filename=f"evidence-{evidence.pk}{evidence.extension}",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns: list[URLPattern] = [
    path("<int:pk>/thread/", need_message, name="need_message"),
    path("<int:pk>/evidence/", need_evidence, name="need_evidence"),
    path("<int:pk>/spot-checks/", need_spot_check, name="need_spot_check"),
    path("evidence/<int:pk>/", evidence_file, name="evidence_file"),
]
