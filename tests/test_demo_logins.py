"""Each login that `make demo` prints reaches its home page, and every link on that home page
opens (the demo is what a new user sees first)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command

from huzhu.core import demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_output() -> str:
    out = io.StringIO()
    call_command("load_demo", "--small", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("login", demo.LOGINS, ids=lambda lg: lg.key)
def test_printed_login_reaches_its_home_page(demo_output: str, client: Any, login: Any) -> None:
    assert login.phone in demo_output
    resp = client.post(
        "/accounts/login/", {"username": login.phone, "password": demo.DEMO_PASSWORD}
    )
    assert resp.status_code == 302, resp.content[:500]
    if login.key == "superuser":
        assert client.get("/admin/").status_code == 200
        return
    home = client.get("/")
    assert home.status_code == 200
    html = home.content.decode()
    if login.key not in ("resident", "volunteer"):
        assert f'data-kind="{login.key}"' in html, f"no {login.key} card on the home page"
    links = set(re.findall(r'href="(/[^"#]*)"', html)) - {"/static/css/huzhu.css"}
    assert links
    for link in sorted(links):
        # A page may send the person on (a merchant's till with one shop opens that shop's).
        resp = client.get(link, follow=True)
        assert resp.status_code == 200, f"{login.key}: {link} answered {resp.status_code}"
        final = resp.redirect_chain[-1][0] if resp.redirect_chain else link
        assert "/accounts/login/" not in final, f"{login.key}: {link} asked to log in"


def test_demo_has_needs_in_every_step_of_the_loop(demo_output: str) -> None:
    """The needs pages are not empty: types to choose from, and the demo resident's needs
    waiting for review, offered, accepted (with a tracking thread), completed and rated (with
    a photo), and paid with points (points held; a hold paid to the volunteer)."""
    from huzhu.needs.models import Evidence, Need, NeedState, NeedType, ThreadMessage
    from huzhu.timebank.models import Transaction

    assert "need types: 7" in demo_output
    assert NeedType.objects.filter(active=True).count() >= 7
    states = set(Need.objects.values_list("state", flat=True))
    assert {
        NeedState.SUBMITTED,
        NeedState.OFFERED,
        NeedState.ACCEPTED,
        NeedState.RATED,
    } <= states, states
    held = Need.objects.filter(pay_with_points=True, state=NeedState.ACCEPTED).get()
    assert held.hold is not None and held.hold.released_at is None
    paid = Need.objects.filter(pay_with_points=True, state=NeedState.RATED).get()
    assert Transaction.objects.filter(idempotency_key=f"need:{paid.pk}:pay").exists()
    assert ThreadMessage.objects.exists() and Evidence.objects.exists()
    assert {n.requester.name for n in Need.objects.select_related("requester")} == {
        next(lg.name for lg in demo.LOGINS if lg.key == "resident")
    }


def test_demo_has_lockdown_operations(demo_output: str, client: Any) -> None:
    """The lockdown pages are not empty: an open group buy with the demo resident's order and
    the neighbours', a testing session with a batch called and households checked in, the daily
    prevention SOP at 2.0 with a suggestion waiting, and the resident's building board shows
    them."""
    from huzhu.accounts.models import Person
    from huzhu.documents.models import Document, Suggestion
    from huzhu.lockdown.models import GroupBuy, GroupBuyState, Order
    from huzhu.lockdown.models.testing import QueueEntry, TestingSession

    assert "group buys: 1" in demo_output and "testing sessions: 1" in demo_output
    gb = GroupBuy.objects.get(state=GroupBuyState.OPEN)
    resident = next(lg for lg in demo.LOGINS if lg.key == "resident")
    assert Order.objects.filter(group_buy=gb).count() > 1
    me = Person.objects.get_by_phone(resident.phone)
    assert Order.objects.filter(group_buy=gb, household_id=me.household_id).exists()
    session = TestingSession.objects.get()
    assert session.batches_called == 1
    assert QueueEntry.objects.filter(session=session, checked_in_at__isnull=False).exists()
    sop = Document.objects.get(kind="sop_prevention")
    assert sop.current_version == 2 and Suggestion.objects.filter(document=sop).exists()
    client.post("/accounts/login/", {"username": resident.phone, "password": demo.DEMO_PASSWORD})
    board = client.get("/lockdown/board/", follow=True).content.decode()
    assert gb.title in board and session.title in board
    from huzhu.helpdesk.models import FAQ, Question

    assert FAQ.objects.filter(question__contains="蔬菜").exists()
    assert Question.objects.filter(routed_to__name="风控消杀", answered_at__isnull=True).exists()
    assert "团购的蔬菜什么时候到？" in board  # the published answer on the board's FAQ
