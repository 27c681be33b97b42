"""Words for the matching core: every reason text is rendered from its facts (DOMAIN.md "Match":
"each with the reason it was suggested"), in Chinese (the source language) through gettext.

Nothing here decides anything; the facts come from :mod:`huzhu.needs.matching.score` and
:mod:`huzhu.needs.matching.batch`, which use the very same values to score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext, pgettext

Facts = Mapping[str, object]


def _int(facts: Facts, key: str) -> int:
    value = facts[key]
    assert isinstance(value, int)
    return value


def _names(facts: Facts, key: str) -> str:
    value = facts[key]
    assert isinstance(value, Sequence)
    return pgettext("list separator", "、").join(str(item) for item in value)


def format_km(metres: int) -> str:
    """``1234`` → ``"1.2"``: tenths of a kilometre, rounded half up, from integer metres."""
    tenths = (metres + 50) // 100
    return f"{tenths // 10}.{tenths % 10}"


_WEEKDAYS = (
    gettext_noop("周一"),
    gettext_noop("周二"),
    gettext_noop("周三"),
    gettext_noop("周四"),
    gettext_noop("周五"),
    gettext_noop("周六"),
    gettext_noop("周日"),
)
_PARTS_OF_DAY = {
    "night": gettext_noop("凌晨"),
    "morning": gettext_noop("上午"),
    "afternoon": gettext_noop("下午"),
    "evening": gettext_noop("晚上"),
}


def weekday_name(weekday: int) -> str:
    # only the name asked for is translated (a plan page renders hundreds of these)
    return _(_WEEKDAYS[weekday])


def part_of_day_name(part: str) -> str:
    return _(_PARTS_OF_DAY[part])


def _distance(facts: Facts) -> str:
    metres = _int(facts, "metres")
    if metres < 1000:
        return _("%(metres)d 米") % {"metres": metres}
    return _("%(km)s 公里") % {"km": format_km(metres)}


def _certification(facts: Facts) -> str:
    return _("%(names)s 认证") % {"names": _names(facts, "certifications")}


def _skill(facts: Facts) -> str:
    return _("擅长%(names)s") % {"names": _names(facts, "skills")}


def _availability(facts: Facts) -> str:
    part = facts["part"]
    assert isinstance(part, str)
    return _("%(day)s%(part)s有空") % {
        "day": weekday_name(_int(facts, "weekday")),
        "part": part_of_day_name(part),
    }


def _rating(facts: Facts) -> str:
    count = _int(facts, "rating_count")
    if count == 0:
        return _("新志愿者，暂无评价")
    text = ngettext("%(average)s★（%(count)d 条评价）", "%(average)s★（%(count)d 条评价）", count)
    return text % {"average": facts["average"], "count": count}


def _continuity(facts: Facts) -> str:
    times = _int(facts, "times_served")
    if facts["preferred"]:
        if times:
            text = ngettext(
                "居民指定的志愿者，曾服务 %(count)d 次",
                "居民指定的志愿者，曾服务 %(count)d 次",
                times,
            )
            return text % {"count": times}
        return _("居民指定的志愿者")
    return ngettext("曾服务该居民 %(count)d 次", "曾服务该居民 %(count)d 次", times) % {
        "count": times
    }


def _reliability(facts: Facts) -> str:
    if _int(facts, "offered") == 0:
        return _("尚无派单记录")
    rate = _int(facts, "accept_rate_pct")
    no_shows = _int(facts, "no_shows")
    if no_shows == 0:
        return _("接单率 %(rate)d%%，从未爽约") % {"rate": rate}
    text = ngettext(
        "接单率 %(rate)d%%，爽约 %(count)d 次", "接单率 %(rate)d%%，爽约 %(count)d 次", no_shows
    )
    return text % {"rate": rate, "count": no_shows}


def _fairness(facts: Facts) -> str:
    load = _int(facts, "recent_load")
    if load == 0:
        return _("近 30 天尚未服务")
    return ngettext("近 30 天服务 %(count)d 次", "近 30 天服务 %(count)d 次", load) % {
        "count": load
    }


_RENDERERS: dict[str, Callable[[Facts], str]] = {
    "distance": _distance,
    "certification": _certification,
    "skill": _skill,
    "availability": _availability,
    "rating": _rating,
    "continuity": _continuity,
    "reliability": _reliability,
    "fairness": _fairness,
}


def render_reason(code: str, facts: Facts) -> str:
    """The reason ``code`` in words, from its ``facts`` only."""
    return _RENDERERS[code](facts)


def violation_text(code: str) -> str:
    """Why a volunteer is not eligible, for a manager who asks "why not them?"."""
    texts = {
        "status": _("志愿者已被暂停或冻结"),
        "requester": _("不能为自己的需求服务"),
        "declined": _("志愿者已拒绝此需求"),
        "skill": _("缺少所需技能"),
        "certification": _("缺少所需资格证书"),
        "gender": _("性别不符合要求"),
        "strength": _("需要体力较好的志愿者"),
        "language": _("不会居民使用的语言"),
        "load_limit": _("已达到服务数量上限"),
        "availability": _("该时段没有空"),
        "double_booking": _("该时段已有其他服务"),
        "distance": _("超出服务距离"),
    }
    return texts[code]


def unassigned_text(code: str, facts: Facts) -> str:
    """Why a batch plan left a need unassigned."""
    if code == "no_eligible":
        return _("没有符合条件的志愿者")
    count = _int(facts, "eligible")
    text = ngettext(
        "符合条件的 %(count)d 位志愿者都已排满或时间冲突",
        "符合条件的 %(count)d 位志愿者都已排满或时间冲突",
        count,
    )
    return text % {"count": count}
