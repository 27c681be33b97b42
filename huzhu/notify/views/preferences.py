"""My notification preferences: channels in order, email, quiet hours."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.notify import actions
from huzhu.notify.forms import PreferencesForm
from huzhu.notify.models import Preference
from huzhu.notify.views._common import actor_of, done, run


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    current = Preference.objects.filter(person=actor).first()
    initial = {}
    if current is not None:
        initial = {
            **PreferencesForm.initial_from(list(current.channels)),
            "email": current.email,
            "quiet_start": current.quiet_start,
            "quiet_end": current.quiet_end,
        }
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = run(
            form,
            lambda: actions.set_preferences(
                actor=actor,
                channels=form.channels(),
                email=data["email"] or "",
                quiet_start=data["quiet_start"],
                quiet_end=data["quiet_end"],
            ),
        )
        if saved is not None:
            return done(request, _("已保存通知设置。"), reverse("notify:preferences"))
    return render(
        request,
        "notify/preferences.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )
