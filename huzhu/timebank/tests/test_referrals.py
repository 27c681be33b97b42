"""Referral codes and the referral reward: stable, short, unambiguous codes; joining with a
code records who brought whom and rewards the referrer once (issue 4, members)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from huzhu.core.errors import ConflictError, DomainError
from huzhu.notify.models import Notification
from huzhu.timebank.actions import members as m
from huzhu.timebank.actions.ledger import issuing_account, person_account
from huzhu.timebank.models import Membership, Referral, ReferralCode, Transaction, TransactionKind
from huzhu.timebank.tests.test_members import join, make_person, override

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def test_codes_are_stable_short_unambiguous_and_unique(cast: Any) -> None:
    codes = {role: m.referral_code_for(person) for role, person in cast.items()}
    assert len(set(codes.values())) == len(codes)
    for code in codes.values():
        assert len(code) == m.CODE_LENGTH
        assert set(code) <= set(m.CODE_ALPHABET)
        assert not set(code) & set("01OIL")
    assert m.referral_code_for(cast.resident) == codes["resident"]
    assert ReferralCode.objects.count() == len(codes)


def test_joining_with_a_code_rewards_the_referrer_once(cast: Any, world: Any) -> None:
    code = m.referral_code_for(cast.volunteer)
    friend = make_person(world, "朋友")
    membership = join(cast.finance_officer, friend, referral_code=code.lower(), key="j1")
    referral = Referral.objects.get()
    assert (referral.referrer, referral.referred, referral.code) == (cast.volunteer, friend, code)
    reward = Transaction.objects.get(kind=TransactionKind.REFERRAL)
    assert referral.reward == reward
    assert reward.idempotency_key == f"referral:{friend.pk}"
    assert person_account(cast.volunteer).balance == 2000  # 20 points
    note = Notification.objects.get(person=cast.volunteer, code="timebank.referral.rewarded")
    assert "20" in note.title
    # A replay of the join, and a second attempt with another code, reward nobody again.
    assert join(cast.finance_officer, friend, referral_code=code, key="j1").pk == membership.pk
    other_code = m.referral_code_for(cast.resident)
    with pytest.raises(ConflictError):
        join(cast.finance_officer, friend, referral_code=other_code)
    assert Referral.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.REFERRAL).count() == 1


def test_reward_is_a_community_setting(cast: Any, world: Any) -> None:
    override(world.community, "timebank.referral_reward", 5)
    code = m.referral_code_for(cast.volunteer)
    join(cast.finance_officer, make_person(world, "朋友"), referral_code=f" {code[:4]}-{code[4:]} ")
    assert person_account(cast.volunteer).balance == 500
    assert issuing_account(world.community).balance < 0


def test_unknown_code_is_refused_and_nothing_is_written(cast: Any, world: Any) -> None:
    friend = make_person(world, "朋友")
    with pytest.raises(DomainError) as err:
        join(cast.finance_officer, friend, referral_code="ZZZZ2222")
    assert err.value.code == "timebank.referral.unknown_code"
    assert err.value.details == {"field": "referral_code"}
    assert "ZZZZ2222" in str(err.value.message)
    assert not Membership.objects.exists() and not Referral.objects.exists()
    assert not Transaction.objects.exists()


def test_no_self_referral(cast: Any) -> None:
    code = m.referral_code_for(cast.resident)
    with pytest.raises(DomainError) as err:
        join(cast.finance_officer, cast.resident, referral_code=code)
    assert err.value.code == "timebank.referral.self"
    assert not Membership.objects.exists()


def test_one_referrer_per_person(cast: Any, world: Any) -> None:
    friend = make_person(world, "朋友")
    Referral.objects.create(
        referrer=cast.resident, referred=friend, code="X", created_at=dt.datetime.now(tz=dt.UTC)
    )
    with pytest.raises(ConflictError) as err:
        join(cast.finance_officer, friend, referral_code=m.referral_code_for(cast.volunteer))
    assert err.value.code == "timebank.referral.already"
    assert not Membership.objects.filter(person=friend).exists()
