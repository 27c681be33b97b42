"""The pure router and FAQ ranking (huzhu.helpdesk.routing): keyword hits, priority, full-width
and case-insensitive matching, the default route, and FAQ ranking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huzhu.helpdesk.routing import (
    DEFAULT,
    FaqEntry,
    RuleSpec,
    normalize,
    rank_faq,
    route,
    split_keywords,
)

TESTING = RuleSpec(1, 11, "核酸检测", ("核酸", "抗原", "NAT"), priority=100)
BUYING = RuleSpec(2, 12, "团购配送", ("团购", "蔬菜", "到货"), priority=100)
MEDS = RuleSpec(3, 13, "配药", ("药", "配药"), priority=200)
RULES = [TESTING, BUYING, MEDS]


@pytest.mark.parametrize(
    ("text", "rule_id", "matched"),
    [
        ("明天几点做核酸？", 1, ("核酸",)),
        ("团购的蔬菜什么时候到货", 2, ("团购", "蔬菜", "到货")),
        # Full-width letters and case: "ｎａｔ" is "NAT".
        ("请问ｎａｔ结果在哪看", 1, ("NAT",)),
        ("nat 结果", 1, ("NAT",)),
        # Spaces inside a keyword as typed by a resident still match.
        ("抗 原 什么时候发", 1, ("抗原",)),
        # Both hit: the higher priority wins (配药 200 over 核酸 100).
        ("做完核酸能去配药吗", 3, ("药", "配药")),
        # Equal priority: more keywords hit wins.
        ("团购蔬菜和核酸", 2, ("团购", "蔬菜")),
    ],
)
def test_route_table(text: str, rule_id: int, matched: tuple[str, ...]) -> None:
    found = route(text, RULES)
    assert found.rule_id == rule_id
    assert found.matched == matched
    assert found.group_id == {1: 11, 2: 12, 3: 13}[rule_id]
    assert not found.is_default


def test_no_keyword_routes_to_the_default() -> None:
    assert route("小区里的猫好可爱", RULES) == DEFAULT
    assert route("", RULES).is_default
    assert route("核酸", []).is_default


def test_tie_on_everything_goes_to_the_older_rule() -> None:
    a = RuleSpec(5, 50, "甲", ("快递",))
    b = RuleSpec(4, 40, "乙", ("快递",))
    assert route("快递到了吗", [a, b]).rule_id == 4
    assert route("快递到了吗", [b, a]).rule_id == 4


def test_longer_keyword_wins_a_tie_of_counts() -> None:
    short = RuleSpec(1, 10, "物资", ("物资",))
    long = RuleSpec(2, 20, "防疫物资", ("防疫物资",))
    assert route("防疫物资什么时候发", [short, long]).rule_id == 2


def test_split_keywords() -> None:
    assert split_keywords("核酸\n 抗原 \n\n核酸，团购、NAT;ｎａｔ") == [
        "核酸",
        "抗原",
        "团购",
        "NAT",
    ]
    assert split_keywords("") == []


# Surrounding text: Chinese, ASCII, spaces and punctuation (no combining marks, which NFKC
# would fold into the keyword's first character).
AROUND = st.text(alphabet="明天几点做的吗请问楼栋？，。！ abcXYZ0123", max_size=30)


@given(
    AROUND,
    st.text(alphabet="核酸团购蔬菜abcＡＢＣ１２３", min_size=1, max_size=4),
)
def test_a_keyword_inside_the_text_always_routes(prefix: str, keyword: str) -> None:
    """Whatever surrounds it, a text containing a rule's only keyword is routed by a rule."""
    rule = RuleSpec(9, 90, "x", (keyword,))
    found = route(prefix + keyword + prefix, [rule])
    assert found.rule_id == 9


@given(st.text(alphabet="ABCDEFabcdef0123456789核酸", min_size=1, max_size=10))
def test_width_and_case_never_matter(word: str) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in word)
    rule = RuleSpec(1, 1, "x", (word.lower(),))
    assert route(full_width.upper(), [rule]).rule_id == 1
    assert normalize(full_width) == normalize(word)


@given(st.text(max_size=40), st.lists(st.integers(0, 1000), min_size=1, max_size=5))
def test_the_winner_has_the_highest_priority_among_the_hits(
    text: str, priorities: list[int]
) -> None:
    rules = [RuleSpec(i + 1, i + 1, str(i), ("门",), p) for i, p in enumerate(priorities)]
    found = route(text + "门", rules)
    assert found.rule_id is not None
    assert rules[found.rule_id - 1].priority == max(priorities)


def test_rank_faq_orders_by_overlap_and_ignores_unrelated() -> None:
    entries = [
        FaqEntry(1, "团购的蔬菜什么时候送到？", "团购配送"),
        FaqEntry(2, "核酸检测几点开始？", "核酸检测"),
        FaqEntry(3, "小区门口的快递怎么取？"),
    ]
    ranked = rank_faq("明天核酸检测几点开始", entries)
    assert ranked[0][0] == 2
    assert all(faq_id != 3 for faq_id, _ in ranked)
    assert rank_faq("", entries) == []
    assert rank_faq("猫咪", entries) == []


def test_rank_faq_needs_more_than_a_common_word() -> None:
    entries = [FaqEntry(1, "什么时候可以出小区散步？")]
    assert rank_faq("团购的大米什么时候到", entries) == []
