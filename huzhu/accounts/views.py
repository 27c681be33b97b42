"""Pages of people: my profile, availability and skills; the registry, reveal, status and roles.

Every view: fetch in scope (404 outside, 403 without the permission) → parse a form → call the
action (which checks again, is atomic and writes audit) → redirect with a message.
Plaintext PII is shown only on the person's own profile and in the single reveal response.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from huzhu.accounts import actions, policy, queries
from huzhu.accounts.forms import (
    LANGUAGE_CHOICES,
    AvailabilityExceptionForm,
    GrantForm,
    PersonCreateForm,
    PersonEditForm,
    PersonFilterForm,
    PhoneLoginForm,
    ProfileForm,
    RevealForm,
    SkillForm,
    SlotForm,
    StatusForm,
)
from huzhu.accounts.models import (
    AvailabilityException,
    AvailabilitySlot,
    Person,
    PersonSkill,
    RoleGrant,
    Skill,
    Status,
    Weekday,
)
from huzhu.accounts.pii import normalize_phone
from huzhu.core import clock, ratelimit
from huzhu.core.errors import DomainError
from huzhu.orgs.models import Building, Community

LARGE_TEXT_COOKIE = "huzhu_large_text"


def _me(request: HttpRequest) -> Person:
    user = request.user
    if not isinstance(user, Person):  # login_required runs first; this is for the type checker
        raise PermissionDenied
    return user


def _people() -> QuerySet[Person]:
    """Person with what policy.scope_of and the pages read, in one query."""
    return Person.objects.select_related("community__alliance", "household__building__community")


def _load_person(pk: int) -> Person:
    person: Person = get_object_or_404(_people(), pk=pk)
    return person


def _form_error(form: Form, exc: DomainError) -> None:
    """Show an action's refusal on its form field when the form has one, else on the form."""
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, str(exc.message))


def _posted_id(request: HttpRequest, name: str) -> int:
    try:
        value = int(request.POST.get(name, ""))
    except ValueError:
        raise Http404 from None
    if value < 1:
        raise Http404
    return value


def _language_labels(codes: list[str]) -> list[str]:
    labels = dict(LANGUAGE_CHOICES)
    return [str(labels.get(code, code)) for code in codes]


def _week(slots: list[AvailabilitySlot]) -> list[dict[str, Any]]:
    return [
        {"weekday": value, "label": label, "slots": [s for s in slots if s.weekday == value]}
        for value, label in Weekday.choices
    ]


def _upcoming_exceptions(person: Person) -> QuerySet[AvailabilityException]:
    return person.availability_exceptions.filter(date__gte=clock.today()).order_by(
        "date", "start_time"
    )


def _location(person: Person) -> dict[str, Any] | None:
    position = person.location()
    if position is None:
        return None
    if person.latitude is not None and person.longitude is not None:
        source = _("自行设置")
    elif person.building is not None and person.building.latitude is not None:
        source = _("所在楼栋")
    else:
        source = _("所在社区")
    return {"latitude": position[0], "longitude": position[1], "source": source}


# --- signing in ---------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """The sign-in page, with a bound on failed attempts per phone number and per client IP
    (``HUZHU_LOGIN_MAX_FAILURES_PER_*``): past it, 429 with ``Retry-After`` until the window
    ends, even for the right password. A success clears the phone number's failures."""

    template_name = "accounts/login.html"
    authentication_form = PhoneLoginForm
    redirect_authenticated_user = True
    limits: list[ratelimit.Limit]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phone = normalize_phone(str(request.POST.get("username", "")))
        self.limits = ratelimit.login_limits(request, phone)
        wait = ratelimit.blocked(self.limits)
        if wait:
            return ratelimit.too_many_page(request, wait)
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        ratelimit.record_failure(self.limits)
        response: HttpResponse = super().form_invalid(form)
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        for limit in self.limits:
            if limit.scope == "login-phone":
                limit.reset()
        response: HttpResponse = super().form_valid(form)
        return response


# --- my own pages -------------------------------------------------------------------------


@never_cache
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """My profile: my own phone, ID number and emergency contact in full (it is me)."""
    me = _me(request)
    person = _load_person(me.pk)
    languages = dict(settings.LANGUAGES)
    context = {
        "person": person,
        "language_labels": _language_labels(person.languages or []),
        "interface_language": languages.get(person.preferred_language, person.preferred_language),
        "location": _location(person),
        "effective_status": person.effective_status(),
        "effective_status_label": Status(person.effective_status()).label,
        "grants": list(queries.active_grants().filter(person=person)),
        "skills": list(queries.person_skills().filter(person=person)),
        "week": _week(list(person.availability.all())),
        "exceptions": list(_upcoming_exceptions(person)),
    }
    return render(request, "accounts/profile.html", context)


@never_cache
@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                person = actions.update_person(actor=me, person=me, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                with translation.override(person.preferred_language):
                    messages.success(request, _("资料已保存。"))
                response = redirect("accounts:profile")
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME,
                    person.preferred_language,
                    max_age=settings.LANGUAGE_COOKIE_AGE,
                    path=settings.LANGUAGE_COOKIE_PATH,
                    domain=settings.LANGUAGE_COOKIE_DOMAIN,
                    secure=settings.LANGUAGE_COOKIE_SECURE or request.is_secure(),
                    httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                    samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
                )
                response.set_cookie(
                    LARGE_TEXT_COOKIE,
                    "1" if person.large_text else "0",
                    max_age=365 * 24 * 3600,
                    samesite="Lax",
                    secure=request.is_secure(),
                )
                return response
    else:
        form = ProfileForm(
            initial={
                "name": me.name,
                "gender": me.gender,
                "birth_date": me.birth_date,
                "emergency_contact": me.emergency_contact,
                "languages": me.languages,
                "latitude": me.latitude,
                "longitude": me.longitude,
                "preferred_language": me.preferred_language,
                "large_text": me.large_text,
            }
        )
    return render(request, "accounts/profile_edit.html", {"form": form})


@login_required
def availability(request: HttpRequest) -> HttpResponse:
    """My weekly slots (merged by the action) and my date exceptions."""
    me = _me(request)
    slot_form = SlotForm(prefix="slot")
    exception_form = AvailabilityExceptionForm(prefix="exc")
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "add_slot":
            slot_form = SlotForm(request.POST, prefix="slot")
            if slot_form.is_valid():
                data = slot_form.cleaned_data
                try:
                    actions.add_availability(
                        actor=me,
                        person=me,
                        weekday=data["weekday"],
                        start=data["start_time"],
                        end=data["end_time"],
                    )
                except DomainError as exc:
                    _form_error(slot_form, exc)
                else:
                    messages.success(request, _("已添加可服务时段。"))
                    return redirect("accounts:availability")
        elif op == "remove_slot":
            slot = get_object_or_404(AvailabilitySlot, pk=_posted_id(request, "slot"), person=me)
            actions.remove_availability(actor=me, slot=slot)
            messages.success(request, _("已删除可服务时段。"))
            return redirect("accounts:availability")
        elif op == "add_exception":
            exception_form = AvailabilityExceptionForm(request.POST, prefix="exc")
            if exception_form.is_valid():
                data = exception_form.cleaned_data
                try:
                    actions.add_availability_exception(
                        actor=me,
                        person=me,
                        date=data["date"],
                        available=data["available"],
                        start=data["start_time"],
                        end=data["end_time"],
                        note=data["note"],
                    )
                except DomainError as exc:
                    _form_error(exception_form, exc)
                else:
                    messages.success(request, _("已添加日期例外。"))
                    return redirect("accounts:availability")
        elif op == "remove_exception":
            exception = get_object_or_404(
                AvailabilityException, pk=_posted_id(request, "exception"), person=me
            )
            actions.remove_availability_exception(actor=me, exception=exception)
            messages.success(request, _("已删除日期例外。"))
            return redirect("accounts:availability")
        else:
            return HttpResponseBadRequest(_("未知操作。"))
    context = {
        "week": _week(list(me.availability.all())),
        "exceptions": list(_upcoming_exceptions(me)),
        "slot_form": slot_form,
        "exception_form": exception_form,
    }
    return render(request, "accounts/availability.html", context)


@login_required
def skills(request: HttpRequest) -> HttpResponse:
    """Add or change my skills; some need a certificate (doctor, counsellor, social worker)."""
    me = _me(request)
    form = SkillForm()
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "add":
            form = SkillForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    actions.add_skill(
                        actor=me,
                        person=me,
                        skill=data["skill"],
                        level=data["level"],
                        certificate_number=data["certificate_number"],
                        certificate_issuer=data["certificate_issuer"],
                        certificate_valid_until=data["certificate_valid_until"],
                    )
                except DomainError as exc:
                    _form_error(form, exc)
                else:
                    messages.success(
                        request, _("已保存技能“%(skill)s”。") % {"skill": data["skill"].name}
                    )
                    return redirect("accounts:skills")
        elif op == "remove":
            held = get_object_or_404(
                PersonSkill.objects.select_related("skill", "person"),
                pk=_posted_id(request, "held"),
                person=me,
            )
            actions.remove_skill(actor=me, held=held)
            messages.success(request, _("已删除技能“%(skill)s”。") % {"skill": held.skill.name})
            return redirect("accounts:skills")
        else:
            return HttpResponseBadRequest(_("未知操作。"))
    else:
        # "修改" links come back here with ?skill=<id>: start from what is held.
        try:
            chosen = int(request.GET.get("skill", ""))
        except ValueError:
            chosen = 0
        held_now = queries.person_skills().filter(person=me, skill_id=chosen).first()
        if held_now is not None:
            cert = held_now.certificate
            form = SkillForm(
                initial={
                    "skill": held_now.skill_id,
                    "level": held_now.level,
                    "certificate_number": cert.number if cert else "",
                    "certificate_issuer": cert.issuer if cert else "",
                    "certificate_valid_until": cert.valid_until if cert else None,
                }
            )
    context = {
        "form": form,
        "held": list(queries.person_skills().filter(person=me)),
        "certificate_skills": list(Skill.objects.filter(requires_certificate=True)),
    }
    return render(request, "accounts/skills.html", context)


class PasswordChange(auth_views.PasswordChangeView):
    """Django's password change with our template; the action writes the audit entry."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        me = _me(self.request)
        person = actions.change_password(
            actor=me, person=me, password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(self.request, person)
        messages.success(self.request, _("密码已修改。"))
        return redirect(self.get_success_url())


# --- the registry ---------------------------------------------------------------------------


def _node_in_scope(request_user: Person, model: type[Any], pk: int | None) -> Any:
    """A community or building named in a filter: 404 unless it is in the user's scope."""
    if pk is None:
        return None
    qs = model.objects.all()
    if model is Building:
        qs = qs.select_related("community")
    node = get_object_or_404(qs, pk=pk)
    if not policy.in_scope(request_user, node):
        raise Http404
    return node


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    """The people the user may see; search by name or by exact phone (blind index)."""
    user = _me(request)
    form = PersonFilterForm(request.GET)
    form.is_valid()  # a malformed filter is ignored, the others still apply
    data = form.cleaned_data
    # A filter naming a node outside the user's scope is 404 before anything else.
    community = _node_in_scope(user, Community, data.get("community"))
    building = _node_in_scope(user, Building, data.get("building"))
    if not policy.can_anywhere(user, "accounts.view_person"):
        raise PermissionDenied("accounts.view_person")
    skill = get_object_or_404(Skill, pk=data["skill"]) if data.get("skill") else None
    people = queries.people_registry(
        user,
        q=data.get("q") or "",
        community=community,
        building=building,
        role=data.get("role") or "",
        skill=skill,
        status=data.get("status") or "",
    )
    page = Paginator(people, settings.HUZHU_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "selected": {
            "q": data.get("q") or "",
            "community": community.pk if community else None,
            "building": building.pk if building else None,
            "role": data.get("role") or "",
            "skill": skill.pk if skill else None,
            "status": data.get("status") or "",
        },
        "filtered": any(
            (data.get("q"), community, building, data.get("role"), skill, data.get("status"))
        ),
        "can_create": policy.can_anywhere(user, "accounts.manage_person"),
        "can_export": policy.can_anywhere(user, "accounts.export_roster"),
        "can_import": policy.can_anywhere(user, "accounts.import_roster"),
        **queries.registry_filter_choices(user),
    }
    return render(request, "accounts/person_list.html", context)


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    if not policy.can_anywhere(user, "accounts.manage_person"):
        raise PermissionDenied("accounts.manage_person")
    if request.method == "POST":
        form = PersonCreateForm(request.POST, actor=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                person = actions.create_person(
                    actor=user,
                    community=data["community"],
                    household=data.get("household"),
                    name=data["name"],
                    phone=data["phone"],
                    password=data.get("password") or None,
                    gender=data["gender"],
                    birth_date=data.get("birth_date"),
                    id_number=data.get("id_number") or "",
                    emergency_contact=data.get("emergency_contact") or "",
                    languages=data.get("languages") or [],
                    roles=tuple(data["roles"]),
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已登记“%(name)s”。") % {"name": person.name})
                return redirect("accounts:person_detail", pk=person.pk)
    else:
        form = PersonCreateForm(actor=user)
        communities = list(form.fields["community"].queryset)  # type: ignore[attr-defined]
        if len(communities) == 1:
            form.initial["community"] = communities[0].pk
    return render(request, "accounts/person_form.html", {"form": form, "person": None})


def _grant_node(grant: RoleGrant) -> Any:
    return grant.group or grant.building or grant.community or grant.alliance


def _render_detail(
    request: HttpRequest,
    user: Person,
    person: Person,
    *,
    revealed: dict[str, str] | None = None,
    status_form: StatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    grants = list(queries.active_grants().filter(person=person))
    can_manage = policy.can(user, "accounts.manage_person", person)
    if status_form is None:
        status_form = StatusForm(initial={"status": person.status, "until": person.status_until})
    context = {
        "person": person,
        "revealed": revealed,
        "language_labels": _language_labels(person.languages or []),
        "effective_status": person.effective_status(),
        "effective_status_label": Status(person.effective_status()).label,
        "grant_rows": [
            {"grant": g, "can_revoke": policy.can(user, "accounts.grant_role", _grant_node(g))}
            for g in grants
        ],
        "skills": list(queries.person_skills().filter(person=person)),
        "week": _week(list(person.availability.all())),
        "exceptions": list(_upcoming_exceptions(person)),
        "can_manage": can_manage,
        "can_reveal": user.pk == person.pk or policy.can(user, "accounts.reveal_pii", person),
        "can_grant": policy.can(user, "accounts.grant_role", person),
        "status_form": status_form,
    }
    return render(request, "accounts/person_detail.html", context, status=status)


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's record with phone, ID number and emergency contact masked."""
    user = _me(request)
    person = _load_person(pk)
    policy.require(user, "accounts.view_person", person)
    return _render_detail(request, user, person)


@require_POST
@never_cache
@login_required
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one field in clear in this response only; every reveal writes one audit entry."""
    user = _me(request)
    person = _load_person(pk)
    policy.require(user, "accounts.view_person", person)
    form = RevealForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("不能查看该字段。"))
    field = form.cleaned_data["field"]
    value = actions.reveal_pii(actor=user, person=person, field=field)
    return _render_detail(request, user, person, revealed={"field": field, "value": value})


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _me(request)
    person = _load_person(pk)
    policy.require(user, "accounts.manage_person", person)
    if request.method == "POST":
        form = PersonEditForm(request.POST, actor=user, person=person)
        if form.is_valid():
            try:
                actions.update_person(actor=user, person=person, **form.changes())
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已保存“%(name)s”的资料。") % {"name": person.name})
                return redirect("accounts:person_detail", pk=person.pk)
    else:
        form = PersonEditForm(
            actor=user,
            person=person,
            initial={
                "name": person.name,
                "gender": person.gender,
                "birth_date": person.birth_date,
                "household": person.household_id,
                "languages": person.languages,
            },
        )
    return render(request, "accounts/person_form.html", {"form": form, "person": person})


@require_POST
@login_required
def person_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Suspend, freeze or reactivate a person, with an end date and a reason."""
    user = _me(request)
    person = _load_person(pk)
    policy.require(user, "accounts.manage_person", person)
    form = StatusForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.set_status(
                actor=user,
                person=person,
                status=data["status"],
                until=data.get("until"),
                reason=data.get("reason") or "",
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("状态已更新。"))
            return redirect("accounts:person_detail", pk=person.pk)
    return _render_detail(request, user, person, status_form=form, status=400)


@login_required
def person_grant(request: HttpRequest, pk: int) -> HttpResponse:
    """Grant a role on a node of the person's community (or the alliance)."""
    user = _me(request)
    person = _load_person(pk)
    policy.require(user, "accounts.grant_role", person)
    form = GrantForm(request.POST or None, actor=user, person=person)
    if request.method == "POST" and form.is_valid():
        try:
            grant = actions.grant_role(
                actor=user, person=person, role=form.cleaned_data["role"], node=form.node()
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("已授予“%(role)s”（%(scope)s）。")
                % {"role": grant.get_role_display(), "scope": grant.scope_label()},
            )
            return redirect("accounts:person_detail", pk=person.pk)
    return render(request, "accounts/person_grant.html", {"form": form, "person": person})


@require_POST
@login_required
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _me(request)
    grant = get_object_or_404(
        RoleGrant.objects.select_related(
            "person",
            "alliance",
            "community__alliance",
            "building__community",
            "group__community",
        ),
        pk=pk,
    )
    policy.require(user, "accounts.grant_role", _grant_node(grant))
    try:
        actions.revoke_role(actor=user, grant=grant)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("已撤销“%(role)s”（%(scope)s）。")
            % {"role": grant.get_role_display(), "scope": grant.scope_label()},
        )
    return redirect(reverse("accounts:person_detail", args=[grant.person_id]))
