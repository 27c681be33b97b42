"""Compose a broadcast: the message, the reply it asks for, the audience with a preview of
how many people it reaches, saved audiences, and scheduling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.accounts import policy
from huzhu.accounts.models import Person, Skill
from huzhu.core.errors import DomainError
from huzhu.notify import actions
from huzhu.notify import audience as aud
from huzhu.notify.forms import BroadcastForm, add_domain_error
from huzhu.notify.models import SavedAudience
from huzhu.notify.views._common import PERM, actor_of, done, run
from huzhu.orgs.models import Alliance, Building, Community, Group


@dataclass
class Choices:
    roots: list[tuple[str, str]]
    buildings: list[tuple[int, str]]
    groups: list[tuple[int, str]]
    skills: list[tuple[int, str]]
    saved: list[tuple[int, str]]
    saved_specs: dict[int, dict[str, Any]]
    root_selected: bool

    def kwargs(self) -> dict[str, Any]:
        return {
            "root_selected": self.root_selected,
            "roots": self.roots,
            "buildings": self.buildings,
            "groups": self.groups,
            "skills": self.skills,
            "saved": self.saved,
        }


def _choices(actor: Person, selected: str) -> Choices:
    """What the actor may pick: communities (or, for a district admin, whole alliances) where
    they broadcast, and the buildings and groups of the selected community they may reach."""
    buildings = policy.visible_to(actor, PERM, Building.objects.all())
    groups = policy.visible_to(actor, PERM, Group.objects.all())
    communities = list(
        Community.objects.filter(
            Q(pk__in=policy.communities_for(actor, PERM).values("pk"))
            | Q(pk__in=buildings.values("community_id"))
            | Q(pk__in=groups.values("community_id"))
        ).order_by("name", "pk")
    )
    alliances = list(policy.visible_to(actor, PERM, Alliance.objects.all()).order_by("name"))
    roots = [(f"c{c.pk}", str(c)) for c in communities]
    roots += [(f"a{a.pk}", _("整个联盟：%(name)s") % {"name": a}) for a in alliances]
    if not selected and len(roots) == 1:
        selected = roots[0][0]
    building_choices: list[tuple[int, str]] = []
    group_choices: list[tuple[int, str]] = []
    root_selected = selected.startswith("c") and selected[1:].isdigit()
    if root_selected:
        community_id = int(selected[1:])
        building_choices = [
            (b.pk, b.name)
            for b in buildings.filter(community_id=community_id).order_by("name", "pk")
        ]
        group_choices = [
            (g.pk, str(g)) for g in groups.filter(community_id=community_id).order_by("name", "pk")
        ]
    saved = list(
        SavedAudience.objects.filter(community__in=[c.pk for c in communities])
        .select_related("community")
        .order_by("community__name", "name")
    )
    return Choices(
        roots=roots,
        buildings=building_choices,
        groups=group_choices,
        skills=[(s.pk, str(s)) for s in Skill.objects.order_by("category", "code")],
        saved=[(s.pk, f"{s.name}（{s.community}）") for s in saved],
        saved_specs={s.pk: {**s.spec, "community": s.community_id} for s in saved},
        root_selected=root_selected,
    )


def _audience(form: BroadcastForm, choices: Choices) -> dict[str, Any]:
    saved = form.cleaned_data.get("saved_audience")
    if saved is not None:
        return dict(choices.saved_specs[saved])
    return form.audience()


def _check(actor: Person, form: BroadcastForm, audience: dict[str, Any]) -> aud.AudienceSpec | None:
    """Parse the audience and check the sender's scope (404 outside it, 403 without the
    permission). A sender who may only reach some buildings or groups of the community is
    asked to choose them instead of being refused."""
    try:
        spec = aud.parse_spec(audience)
        if not spec.buildings and not spec.groups:
            root = aud.root_node(spec)
            if not policy.can(actor, PERM, root) and policy.in_scope(actor, root):
                form.add_error(
                    "buildings", _("您只能向自己负责的楼栋或职能组发送，请至少选择一个。")
                )
                return None
        aud.check_scope(actor, spec)
    except DomainError as exc:
        _audience_error(form, exc)
        return None
    return spec


def _audience_error(form: BroadcastForm, exc: DomainError) -> None:
    """An audience rule names spec keys; show it on the form field that sets them."""
    field = exc.details.get("field")
    if field in ("community", "alliance"):
        form.add_error("root", str(exc.message))
    else:
        add_domain_error(form, exc)


@login_required
def broadcast_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not policy.can_anywhere(actor, PERM):
        raise PermissionDenied(PERM)
    data = request.POST if request.method == "POST" else None
    choices = _choices(actor, str((data or request.GET).get("root", "")))
    form = BroadcastForm(data, **choices.kwargs())
    preview: dict[str, Any] | None = None
    if data is not None and form.is_valid():
        cleaned = form.cleaned_data
        audience = _audience(form, choices)
        spec = _check(actor, form, audience)
        if spec is not None and "save_audience" in data:
            saved = _save_audience(actor, form, spec)
            if saved is not None:
                messages.success(
                    request, _("已保存常用接收对象“%(name)s”。") % {"name": saved.name}
                )
                choices = _choices(actor, str(data.get("root", "")))
                form = BroadcastForm(data, **choices.kwargs())
                form.is_valid()
        elif spec is not None and "preview" in data:
            preview = {"count": aud.recipients(spec).count(), "label": aud.describe(spec)}
        elif spec is not None:
            broadcast = run(
                form,
                lambda: actions.create_broadcast(
                    actor=actor,
                    audience=audience,
                    title=cleaned["title"],
                    body=cleaned["body"],
                    visibility=cleaned["visibility"],
                    urgent=cleaned["urgent"],
                    channels=cleaned["channels"],
                    reply_kind=cleaned["reply_kind"],
                    reply_choices=cleaned["reply_choices"],
                    reply_deadline=cleaned["reply_deadline"],
                    scheduled_at=cleaned["scheduled_at"],
                ),
            )
            if broadcast is not None:
                text = (
                    _("广播“%(title)s”已排期。")
                    if broadcast.scheduled_at
                    else _("广播“%(title)s”已发出，正在送达。")
                )
                return done(
                    request,
                    text % {"title": broadcast.title},
                    reverse("notify:broadcast_detail", args=[broadcast.pk]),
                )
    return render(
        request,
        "notify/broadcast_form.html",
        {"form": form, "preview": preview},
        status=400 if data is not None and form.errors else 200,
    )


def _save_audience(actor: Person, form: BroadcastForm, spec: aud.AudienceSpec) -> Any:
    name = str(form.cleaned_data.get("save_as") or "").strip()
    if not name:
        form.add_error("save_as", _("请填写常用接收对象的名称。"))
        return None
    if spec.community is None:
        form.add_error("root", _("整个联盟的接收对象不能保存，请选择一个社区。"))
        return None
    community = Community.objects.get(pk=spec.community)
    audience = {k: v for k, v in spec.to_json().items() if k != "community"}
    return run(
        form,
        lambda: actions.save_audience(
            actor=actor, community=community, name=name, audience=audience
        ),
    )
