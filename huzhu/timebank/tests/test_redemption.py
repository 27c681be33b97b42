"""Paying with points at a merchant (DOMAIN.md "The time bank": 1 point = 3 yuan off, at most 30
yuan per purchase, by showing a QR code), through the actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404
from hypothesis import given
from hypothesis import strategies as st

from huzhu.audit.models import AuditEntry
from huzhu.core import clock
from huzhu.core.errors import DomainError
from huzhu.notify.models import Notification
from huzhu.timebank import actions, qr
from huzhu.timebank.actions import merchants as m
from huzhu.timebank.models import Redemption, Transaction, TransactionKind
from huzhu.timebank.tests.test_merchants import available, give_points, make_merchant, override

pytestmark = pytest.mark.django_db


def _redeem(cast: Any, merchant: Any, member: Any, purchase_fen: int, key: str = "k1") -> Any:
    return m.redeem(
        actor=cast.merchant,
        merchant=merchant,
        token=qr.make_token(member),
        purchase_fen=purchase_fen,
        key=key,
    )


# --- the DOMAIN numbers ----------------------------------------------------------------------


def test_sixty_yuan_uses_ten_points_for_thirty_yuan_off(cast: Any) -> None:
    merchant = make_merchant(cast)
    member = cast.resident
    give_points(member, 100_00)
    r = _redeem(cast, merchant, member, 60_00)
    assert (r.purchase_fen, r.discount_fen, r.points) == (6000, 3000, 1000)
    assert r.fee_percent == Decimal("3.00")
    assert available(member) == 90_00
    assert merchant.account is not None
    merchant.account.refresh_from_db()
    assert merchant.account.balance == 1000
    tx = r.transaction
    assert tx.kind == TransactionKind.REDEMPTION
    assert sorted(p.amount for p in tx.postings.all()) == [-1000, 1000]
    assert tx.actor == cast.merchant and tx.on_behalf_of == member
    assert AuditEntry.objects.filter(code="timebank.redemption.created").count() == 1
    # The member's side of the confirmation, in their language.
    note = Notification.objects.get(person=member, code="timebank.redemption.done")
    assert merchant.name in note.title
    assert note.link == f"/timebank/redemptions/{r.pk}/"
    assert "30.00" in note.body and "10.00" in note.body and "30.00 元" in note.body


def test_the_cap_is_thirty_yuan_whatever_the_purchase(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 500_00)
    r = _redeem(cast, merchant, cast.resident, 1000_00)
    assert (r.discount_fen, r.points) == (3000, 1000)


def test_a_member_with_two_points_gets_six_yuan_off(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 2_00)
    r = _redeem(cast, merchant, cast.resident, 60_00)
    assert (r.discount_fen, r.points) == (600, 200)
    assert available(cast.resident) == 0


def test_a_small_purchase_rounds_the_discount_down(cast: Any) -> None:
    """20 yuan would need 6.666… points: 6.66 points pay 19.98 yuan exactly."""
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    r = _redeem(cast, merchant, cast.resident, 20_00)
    assert (r.discount_fen, r.points) == (1998, 666)
    assert r.points * 3 == r.discount_fen


def test_the_community_settings_change_the_outcome(cast: Any, world: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    override(world.community, "timebank.yuan_per_point", "2")
    r = _redeem(cast, merchant, cast.resident, 60_00, key="a")
    assert (r.discount_fen, r.points) == (3000, 1500)
    override(world.community, "timebank.yuan_per_point", "2.5")
    r = _redeem(cast, merchant, cast.resident, 60_00, key="b")
    assert (r.discount_fen, r.points) == (3000, 1200)
    override(world.community, "timebank.yuan_per_point", "3")
    override(world.community, "timebank.max_yuan_per_purchase", "12")
    r = _redeem(cast, merchant, cast.resident, 60_00, key="c")
    assert (r.discount_fen, r.points) == (1200, 400)


def test_the_other_communitys_settings_do_not_apply(cast: Any, world: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    override(world.other_community, "timebank.max_yuan_per_purchase", "10")
    r = _redeem(cast, merchant, cast.resident, 60_00)
    assert r.discount_fen == 3000


@given(
    purchase=st.integers(min_value=1, max_value=10_000_000),
    points=st.integers(min_value=0, max_value=1_000_000),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000"), places=2),
    cap=st.decimals(min_value=Decimal("0"), max_value=Decimal("10000"), places=2),
)
def test_the_discount_is_exact_capped_and_maximal(
    purchase: int, points: int, rate: Decimal, cap: Decimal
) -> None:
    d = m.compute_discount(
        purchase_fen=purchase, available=points, yuan_per_point=rate, max_yuan=cap
    )
    assert isinstance(d.discount_fen, int) and isinstance(d.points, int)
    assert Fraction(rate) * d.points == d.discount_fen  # exact, no rounding of points
    assert 0 <= d.points <= points
    bound = min(Fraction(purchase), Fraction(int(cap * 100)), Fraction(rate) * points)
    assert d.discount_fen <= bound
    # Maximal: the next payable step would break a bound.
    assert d.discount_fen + Fraction(rate).numerator > bound


# --- zero discount ---------------------------------------------------------------------------


def test_a_member_without_points_is_refused_and_the_code_stays_usable(cast: Any) -> None:
    merchant = make_merchant(cast)
    token = qr.make_token(cast.resident)
    with pytest.raises(DomainError) as exc:
        m.preview_redemption(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000)
    assert exc.value.code == "timebank.redemption.no_points"
    with pytest.raises(DomainError) as exc:
        m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="z")
    assert exc.value.code == "timebank.redemption.no_points"
    assert not Redemption.objects.exists()
    give_points(cast.resident, 1_00)
    r = m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="z")
    assert (r.discount_fen, r.points) == (300, 100)


def test_a_purchase_too_small_to_discount_is_refused(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 10_00)
    with pytest.raises(DomainError) as exc:
        _redeem(cast, merchant, cast.resident, 2)  # 0.02 yuan: less than one hundredth's worth
    assert exc.value.code == "timebank.redemption.nothing"


def test_preview_writes_nothing_and_matches_the_redemption(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    token = qr.make_token(cast.resident)
    before = Transaction.objects.count()
    p = m.preview_redemption(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000)
    assert (p.discount_fen, p.points, p.pay_fen) == (3000, 1000, 3000)
    assert p.member_name.startswith(cast.resident.name[0]) and "*" in p.member_name
    assert (p.discount_yuan, p.points_text, p.pay_yuan) == ("30.00", "10.00", "30.00")
    assert Transaction.objects.count() == before and not Redemption.objects.exists()
    r = m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="p")
    assert (r.discount_fen, r.points) == (p.discount_fen, p.points)
    with pytest.raises(DomainError) as exc:
        m.preview_redemption(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000)
    assert exc.value.code == "timebank.qr.used"


# --- the code --------------------------------------------------------------------------------


def test_a_code_expires_after_its_lifetime(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        token = qr.make_token(cast.resident)
        fresh = qr.make_token(cast.resident)
    later = start + dt.timedelta(seconds=qr.TOKEN_TTL_SECONDS - 1)
    with time_machine.travel(later, tick=False):
        r = m.redeem(actor=cast.merchant, merchant=merchant, token=fresh, purchase_fen=600, key="a")
        assert r.discount_fen == 600
    too_late = start + dt.timedelta(seconds=qr.TOKEN_TTL_SECONDS + 1)
    with time_machine.travel(too_late, tick=False), pytest.raises(DomainError) as exc:
        m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=600, key="b")
    assert exc.value.code == "timebank.qr.expired"
    assert Redemption.objects.count() == 1


def test_a_code_is_used_once(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    token = qr.make_token(cast.resident)
    m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=600, key="a")
    with pytest.raises(DomainError) as exc:
        m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=600, key="b")
    assert exc.value.code == "timebank.qr.used" and exc.value.status == 409
    assert "刷新" in str(exc.value.message)
    assert Redemption.objects.count() == 1 and available(cast.resident) == 98_00


def test_two_codes_are_different(cast: Any) -> None:
    a, b = qr.make_token(cast.resident), qr.make_token(cast.resident)
    assert a != b and qr.read_token(a).nonce != qr.read_token(b).nonce
    assert qr.read_token(a).person_id == cast.resident.pk


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: signing.dumps([99999, "x" * 16], salt="another.salt", compress=False),
        lambda t: signing.dumps({"p": 1}, salt=qr.SALT, compress=False),  # shape
        lambda t: "not a code",
        lambda t: "",
    ],
)
def test_a_tampered_or_foreign_code_is_refused(cast: Any, mangle: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    with pytest.raises(DomainError) as exc:
        m.redeem(
            actor=cast.merchant,
            merchant=merchant,
            token=mangle(qr.make_token(cast.resident)),
            purchase_fen=600,
            key="t",
        )
    assert exc.value.code in ("timebank.qr.invalid", "timebank.qr.required")
    assert not Redemption.objects.exists()


def test_a_code_for_another_member_id_needs_the_signature(cast: Any) -> None:
    """Changing the member inside the payload breaks the signature."""
    token = qr.make_token(cast.resident)
    payload, rest = token.split(":", 1)
    forged = signing.b64_encode(f'[{cast.volunteer.pk},"abcdabcdabcdabcd"]'.encode()).decode()
    with pytest.raises(DomainError) as exc:
        qr.read_token(f"{forged}:{rest}")
    assert exc.value.code == "timebank.qr.invalid"
    assert payload != forged


def test_whitespace_in_a_pasted_code_is_ignored(cast: Any) -> None:
    token = qr.make_token(cast.resident)
    assert qr.read_token(f"  {token[:10]}\n{token[10:]} ").person_id == cast.resident.pk


def test_the_qr_code_is_an_inline_svg(cast: Any) -> None:
    svg = qr.qr_svg(qr.make_token(cast.resident))
    assert svg.startswith("<svg") and "http" not in svg.split(">", 1)[0].replace("xmlns", "")


# --- who and where ---------------------------------------------------------------------------


def test_only_the_merchants_own_staff_redeem(cast: Any, world: Any) -> None:
    mine = make_merchant(cast)
    theirs = make_merchant(cast, staff=None)
    give_points(cast.resident, 100_00)
    with pytest.raises(DomainError) as exc:
        _redeem(cast, theirs, cast.resident, 600)
    assert exc.value.code == "timebank.redemption.not_staff" and exc.value.status == 403
    # Listed on the merchant but without the merchant role: refused too.
    mine.staff.add(cast.volunteer)
    with pytest.raises(PermissionDenied):
        m.redeem(
            actor=cast.volunteer,
            merchant=mine,
            token=qr.make_token(cast.resident),
            purchase_fen=600,
            key="v",
        )
    # A merchant of another community is outside the staff's scope.
    other = make_merchant(cast, world.other_community)
    with pytest.raises(Http404):
        _redeem(cast, other, cast.resident, 600, key="o")
    assert not Redemption.objects.exists()


def test_a_suspended_merchant_cannot_redeem(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    m.suspend_merchant(actor=cast.branch_head, merchant=merchant)
    with pytest.raises(DomainError) as exc:
        _redeem(cast, merchant, cast.resident, 600)
    assert exc.value.code == "timebank.redemption.suspended"
    m.reactivate_merchant(actor=cast.branch_head, merchant=merchant)
    assert _redeem(cast, merchant, cast.resident, 600, key="again").discount_fen == 600


def test_no_agreement_in_force_no_redemption(cast: Any) -> None:
    merchant = make_merchant(cast, fee="")
    give_points(cast.resident, 100_00)
    with pytest.raises(DomainError) as exc:
        _redeem(cast, merchant, cast.resident, 600)
    assert exc.value.code == "timebank.redemption.no_agreement"
    today = clock.today()
    m.sign_agreement(
        actor=cast.branch_head,
        merchant=merchant,
        fee_percent=Decimal("4"),
        starts_on=today - dt.timedelta(days=30),
        ends_on=today - dt.timedelta(days=1),
    )
    with pytest.raises(DomainError) as exc:
        _redeem(cast, merchant, cast.resident, 600, key="ended")
    assert exc.value.code == "timebank.redemption.no_agreement"
    m.sign_agreement(actor=cast.branch_head, merchant=merchant, fee_percent=Decimal("4.5"))
    assert _redeem(cast, merchant, cast.resident, 600, key="ok").fee_percent == Decimal("4.50")


def test_points_are_valid_across_the_alliance(cast: Any, world: Any) -> None:
    """A member of the other community of the alliance pays at this community's merchant."""
    merchant = make_merchant(cast)
    give_points(cast.outsider, 10_00)
    r = _redeem(cast, merchant, cast.outsider, 600)
    assert r.member == cast.outsider and r.community == world.community


def test_a_member_of_another_alliance_is_refused(cast: Any) -> None:
    from huzhu.accounts.models import Person
    from huzhu.orgs.models import Alliance, Community

    far = Community.objects.create(alliance=Alliance.objects.create(name="远方"), name="远方小区")
    stranger = Person(name="远方居民", community=far)
    stranger.set_phone("13712345678")
    stranger.save()
    give_points(stranger, 10_00)
    with pytest.raises(DomainError) as exc:
        _redeem(cast, make_merchant(cast), stranger, 600)
    assert exc.value.code == "timebank.qr.invalid"


def test_the_key_makes_a_retry_harmless(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    token = qr.make_token(cast.resident)
    a = m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="r")
    b = m.redeem(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=6000, key="r")
    assert a.pk == b.pk
    assert Transaction.objects.filter(kind=TransactionKind.REDEMPTION).count() == 1
    assert Notification.objects.filter(code="timebank.redemption.done").count() == 1
    assert available(cast.resident) == 90_00
    # Someone else's key is not a way to read their redemption.
    other = make_merchant(cast)
    with pytest.raises(DomainError) as exc:
        m.redeem(actor=cast.merchant, merchant=other, token=token, purchase_fen=6000, key="r")
    assert exc.value.code == "timebank.key.reused"


@pytest.mark.parametrize(
    ("value", "fen", "code"),
    [
        ("60", 6000, None),
        ("12.5", 1250, None),
        (" 0.01 ", 1, None),
        ("0", None, "timebank.yuan.not_positive"),
        ("-3", None, "timebank.yuan.not_positive"),
        ("1.234", None, "timebank.yuan.precision"),
        ("abc", None, "timebank.yuan.invalid"),
        ("NaN", None, "timebank.yuan.invalid"),
        ("50000.01", None, "timebank.yuan.too_large"),
    ],
)
def test_purchase_amounts_are_parsed_exactly(value: str, fen: int | None, code: str | None) -> None:
    if code is None:
        assert m.parse_yuan(value) == fen
    else:
        with pytest.raises(DomainError) as exc:
            m.parse_yuan(value)
        assert exc.value.code == code


def test_floats_and_non_integers_are_refused(cast: Any) -> None:
    with pytest.raises(DomainError):
        m.parse_yuan(60.0)  # type: ignore[arg-type]
    with pytest.raises(DomainError):
        m.check_purchase_fen(60.0)


def test_a_reversed_redemption_gives_the_points_back(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.resident, 100_00)
    r = _redeem(cast, merchant, cast.resident, 6000)
    actions.reverse_transaction(
        actor=cast.branch_head, transaction=r.transaction, reason="退货", evidence="小票", key="rev"
    )
    assert available(cast.resident) == 100_00


def test_staff_do_not_redeem_their_own_code(cast: Any) -> None:
    merchant = make_merchant(cast)
    give_points(cast.merchant, 100_00)
    token = qr.make_token(cast.merchant)
    for call in (m.preview_redemption, m.redeem):
        kwargs = {"key": "self"} if call is m.redeem else {}
        with pytest.raises(DomainError) as exc:
            call(actor=cast.merchant, merchant=merchant, token=token, purchase_fen=600, **kwargs)
        assert exc.value.code == "timebank.redemption.self"
    assert not Redemption.objects.exists()
