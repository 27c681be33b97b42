"""Reads of the broker's workspace (社会公益经纪人: "their service station's area; enters needs
for people who cannot, picks the best match from the suggestions, arranges recurring
services" — DOMAIN.md roles).

"In my care" is not a list kept by hand: it is everyone the broker has published a need for
(each such publish is recorded as on the person's behalf, with an audit entry). The broker
finds anyone else of their area ("needs.care" on the person's node) by searching all
residents, and takes them into care by entering their first need.
"""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from huzhu.accounts import pii, policy
from huzhu.accounts.models import Person
from huzhu.needs.models import Need
from huzhu.needs.states import FINAL_STATES

CARE = "needs.care"


def _open_needs() -> Coalesce:
    per = (
        Need.objects.filter(requester=OuterRef("pk"))
        .exclude(state__in=FINAL_STATES)
        .order_by()
        .values("requester")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per, output_field=IntegerField()), 0)


def people_in_area(actor: Person) -> QuerySet[Person]:
    """The active people of the actor's area (where they hold "needs.care"), not themselves."""
    return policy.visible_to(
        actor, CARE, Person.objects.filter(is_active=True, community__isnull=False)
    ).exclude(pk=actor.pk)


def published_for(actor: Person) -> QuerySet[Need]:
    """Needs the actor published on someone else's behalf."""
    return Need.objects.filter(published_by=actor).exclude(requester=actor)


def care_list(actor: Person, *, q: str = "", everyone: bool = False) -> QuerySet[Person]:
    """The people in the actor's care (``everyone``: all of their area), searched by name or by
    a whole phone number (the blind index, never decrypting), with their open needs counted;
    building and room first."""
    people = people_in_area(actor)
    mine = Exists(published_for(actor).filter(requester=OuterRef("pk")))
    if not everyone:
        people = people.filter(mine)
    q = (q or "").strip()
    if q:
        if pii.is_valid_phone(q):
            people = people.filter(phone_hash=pii.phone_index(q))
        else:
            people = people.filter(Q(name__icontains=q) | Q(household__room__icontains=q))
    return (
        people.select_related("community", "household__building")
        .annotate(open_needs=_open_needs(), in_care=mine)
        .order_by("household__building__name", "household__room", "name", "pk")
    )


def needs_of(actor: Person, person: Person) -> QuerySet[Need]:
    """The person's needs the actor may see ("needs.view"), latest start first."""
    return (
        policy.visible_to(actor, "needs.view", Need.objects.filter(requester=person))
        .select_related("need_type", "building__community", "community", "preferred_volunteer")
        .order_by("-starts_at", "-id")
    )
