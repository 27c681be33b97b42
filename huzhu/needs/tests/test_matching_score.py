"""Scoring, reasons in words and ranking (DOMAIN.md "Match": distance, fairness, reliability,
continuity, each with the reason it was suggested)."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext

from huzhu.needs.matching import Weights, rank, score
from huzhu.needs.matching.score import (
    average_tenths,
    combine,
    percent,
    proximity,
    smoothed_rating,
)
from huzhu.needs.matching.texts import format_km, violation_text
from huzhu.needs.tests.test_matching_rules import at, make_cand, make_need, place

BASELINE_ZH = (
    "1.2 公里 · 理发 认证 · 周三上午有空 · 4.8★（40 条评价） · 曾服务该居民 2 次"
    " · 接单率 90%，从未爽约 · 近 30 天服务 3 次"
)
BASELINE_EN = (
    "1.2 km · 理发 certified · free Wed morning · 4.8★ (40 ratings) · served this resident 2 times"
    " · accepts 90% of offers, never a no-show · 3 services in the last 30 days"
)


def test_summary_in_chinese() -> None:
    suggestion = score(make_need(), make_cand())
    assert suggestion.summary == BASELINE_ZH
    assert [r.code for r in suggestion.reasons] == [
        "distance",
        "certification",
        "availability",
        "rating",
        "continuity",
        "reliability",
        "fairness",
    ]


def test_facts_are_the_values_used() -> None:
    need, cand = make_need(), make_cand()
    suggestion = score(need, cand)
    facts = {r.code: dict(r.facts) for r in suggestion.reasons}
    metres = facts["distance"]["metres"]
    assert isinstance(metres, int)
    assert facts["distance"] == {"metres": metres, "radius_m": 3_000}
    assert facts["certification"] == {"certifications": ["理发"]}
    assert facts["availability"] == {
        "weekday": 2,
        "part": "morning",
        "available_from": at(2, 8).isoformat(),
        "available_until": at(2, 12).isoformat(),
    }
    weights = Weights()
    assert facts["rating"] == {
        "rating_sum": 192,
        "rating_count": 40,
        "smoothed": smoothed_rating(192, 40, weights),
        "average": "4.8",
    }
    assert facts["continuity"] == {"times_served": 2, "preferred": False}
    assert facts["reliability"] == {
        "offered": 20,
        "accepted": 18,
        "no_shows": 0,
        "accept_rate_pct": 90,
    }
    assert facts["fairness"] == {"recent_load": 3}
    assert suggestion.components["distance"] == proximity(metres, 3_000)
    assert suggestion.score == combine(weights, **suggestion.components)
    assert suggestion.cost == weights.total - suggestion.score


def test_english_keeps_codes_and_facts() -> None:
    zh = score(make_need(), make_cand())
    with translation.override("en"):
        en = score(make_need(), make_cand())
        assert [(r.code, dict(r.facts)) for r in en.reasons] == [
            (r.code, dict(r.facts)) for r in zh.reasons
        ]
        assert en.score == zh.score
        # Reason.text follows the active language at the time it is read.
        assert zh.summary == en.summary


def test_english_texts() -> None:
    with translation.override("en"):
        if gettext("%(day)s%(part)s有空") == "%(day)s%(part)s有空":
            pytest.skip("the English msgstr of the matching texts are not in locale/en yet")
        assert score(make_need(), make_cand()).summary == BASELINE_EN
        assert violation_text("double_booking") != "该时段已有其他服务"


def test_short_distances_are_in_metres() -> None:
    lat, lon = place(850)
    suggestion = score(make_need(), make_cand(lat=lat, lon=lon))
    assert suggestion.reasons[0].text == "850 米"
    assert format_km(1_249) == "1.2"
    assert format_km(1_250) == "1.3"
    assert format_km(12_345) == "12.3"


def test_one_five_star_rating_does_not_beat_forty_at_four_point_eight() -> None:
    lucky = make_cand(id=11, rating_sum=5, rating_count=1)
    steady = make_cand(id=12, rating_sum=192, rating_count=40)
    weights = Weights()
    assert smoothed_rating(5, 1, weights) == pytest.approx(25 / 6)
    assert smoothed_rating(192, 40, weights) == pytest.approx(212 / 45)
    ranked = rank(make_need(), [lucky, steady])
    assert [s.candidate_id for s in ranked] == [12, 11]
    assert ranked[1].reason("rating") is not None
    assert ranked[1].reason("rating").text == "5.0★（1 条评价）"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "code", "text"),
    [
        ({"rating_sum": 0, "rating_count": 0}, "rating", "新志愿者，暂无评价"),
        ({"rating_sum": 29, "rating_count": 6}, "rating", "4.8★（6 条评价）"),  # 4.833 → 4.8
        ({"rating_sum": 57, "rating_count": 12}, "rating", "4.8★（12 条评价）"),  # 4.75 → 4.8
        ({"offered": 0, "accepted": 0}, "reliability", "尚无派单记录"),
        ({"offered": 3, "accepted": 2, "no_shows": 1}, "reliability", "接单率 67%，爽约 1 次"),
        ({"recent_load": 0}, "fairness", "近 30 天尚未服务"),
        ({"served_requesters": {500: 5}}, "continuity", "曾服务该居民 5 次"),
    ],
)
def test_reason_texts(changes: dict[str, object], code: str, text: str) -> None:
    suggestion = score(make_need(), make_cand(**changes))
    reason = suggestion.reason(code)
    assert reason is not None
    assert reason.text == text


def test_continuity_for_the_preferred_volunteer() -> None:
    need = make_need(preferred_volunteer_id=10)
    assert score(need, make_cand()).reason("continuity").text == (  # type: ignore[union-attr]
        "居民指定的志愿者，曾服务 2 次"
    )
    fresh = make_cand(served_requesters={})
    suggestion = score(need, fresh)
    assert suggestion.reason("continuity").text == "居民指定的志愿者"  # type: ignore[union-attr]
    assert suggestion.components["continuity"] == 1.0
    assert score(make_need(), fresh).reason("continuity") is None


def test_skill_reason_lists_uncertified_skills_sorted() -> None:
    need = make_need(
        skills=frozenset({"维修", "代购"}), certifications=frozenset({"电工", "高空作业"})
    )
    cand = make_cand(
        skills=frozenset({"维修", "代购"}), certifications=frozenset({"电工", "高空作业"})
    )
    suggestion = score(need, cand)
    assert suggestion.reason("certification").facts == {  # type: ignore[union-attr]
        "certifications": sorted({"电工", "高空作业"})
    }
    assert suggestion.reason("skill").text == "擅长" + "、".join(sorted({"维修", "代购"}))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("day", "hour", "text"),
    [(0, 5, "周一凌晨有空"), (4, 14, "周五下午有空"), (6, 19, "周日晚上有空")],
)
def test_availability_text(day: int, hour: int, text: str) -> None:
    need = make_need(start=at(day, hour), end=at(day, hour + 1))
    cand = make_cand(availability=[(at(day, 0), at(day, 23))])
    assert score(need, cand).reason("availability").text == text  # type: ignore[union-attr]


def test_integer_display_helpers() -> None:
    assert average_tenths(192, 40) == 48
    assert average_tenths(9, 2) == 45
    assert average_tenths(19, 4) == 48  # 4.75 rounds half up
    assert percent(2, 3) == 67
    assert percent(1, 8) == 13  # 12.5 rounds half up


def test_rank_filters_sorts_and_breaks_ties_by_id() -> None:
    need = make_need()
    twins = [make_cand(id=cid) for cid in (33, 31, 32)]
    near_lat, near_lon = place(300)
    near = make_cand(id=40, lat=near_lat, lon=near_lon)
    barred = make_cand(id=20, status="suspended")
    ranked = rank(need, [*twins, barred, near])
    assert [s.candidate_id for s in ranked] == [40, 31, 32, 33]
    assert ranked[1].score == ranked[2].score == ranked[3].score
    assert [s.candidate_id for s in rank(need, list(reversed([*twins, near])))] == [40, 31, 32, 33]
    assert [s.candidate_id for s in rank(need, [*twins, near], limit=2)] == [40, 31]
    assert rank(need, twins, limit=0) == []
    assert rank(need, []) == []


def test_weights_change_the_order() -> None:
    need = make_need()
    near_lat, near_lon = place(200)
    close_but_busy = make_cand(id=1, lat=near_lat, lon=near_lon, recent_load=12)
    far_but_idle = make_cand(id=2, recent_load=0)
    distance_only = Weights(rating=0, reliability=0, fairness=0, continuity=0)
    fairness_only = Weights(distance=0, rating=0, reliability=0, continuity=0)
    assert [s.candidate_id for s in rank(need, [close_but_busy, far_but_idle], distance_only)] == [
        1,
        2,
    ]
    assert [s.candidate_id for s in rank(need, [close_but_busy, far_but_idle], fairness_only)] == [
        2,
        1,
    ]


def test_weights_are_validated() -> None:
    assert Weights().total == pytest.approx(1.0)
    with pytest.raises(ValueError, match="negative"):
        Weights(distance=-0.1)
    with pytest.raises(ValueError, match="prior"):
        Weights(rating_prior_weight=0)
    with pytest.raises(ValueError, match="positive"):
        Weights(fairness_scale=0)


def test_violation_texts_exist_for_every_code() -> None:
    from huzhu.needs.matching import CODES

    texts = {code: violation_text(code) for code in CODES}
    assert texts["status"] == "志愿者已被暂停或冻结"
    assert len(set(texts.values())) == len(CODES)
