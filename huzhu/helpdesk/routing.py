"""Routing a question and ranking the FAQ: pure functions, no ORM.

``route(text, rules)`` picks the rule whose keywords the text contains: the highest priority
wins, then the most keywords hit, then the longest keyword hit, then the oldest rule. No hit
means the community's default group (the caller resolves it). Text and keywords are compared
after Unicode NFKC normalisation and case folding, so full-width letters and digits (ＮＡＴ,
２号楼) match their half-width forms, and "Covid" matches "COVID".

``rank_faq(text, entries)`` orders FAQ entries by how much of the question they share:
Chinese has no spaces between words, so the overlap is counted on character bigrams (and on
whole ASCII words), weighted by how much of the asker's text they cover; the bigrams of words
every question has (``STOP_TERMS``: 什么时候, 怎么, 请问 …) do not count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[0-9a-z]+")
# Bigrams of the words every question has (什么时候, 怎么, 请问, 可以 …): shared, they say
# nothing about the topic.
STOP_TERMS = frozenset(
    {
        "什么",
        "么时",
        "时候",
        "怎么",
        "么办",
        "请问",
        "问一",
        "一下",
        "可以",
        "能不",
        "不能",
        "是不",
        "不是",
        "我们",
        "你们",
        "我的",
        "你的",
        "有没",
        "没有",
        "这个",
        "那个",
        "哪里",
    }
)


def normalize(text: str) -> str:
    """NFKC (full width → half width), case folded, whitespace removed."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def split_keywords(raw: str) -> list[str]:
    """Keywords as typed: one per line (commas and the Chinese 、，；also separate), stripped,
    duplicates (after normalisation) dropped, order kept."""
    seen: set[str] = set()
    out: list[str] = []
    for part in re.split(r"[\n\r,，;；、]+", raw or ""):
        word = part.strip()
        key = normalize(word)
        if word and key not in seen:
            seen.add(key)
            out.append(word)
    return out


@dataclass(frozen=True)
class RuleSpec:
    rule_id: int
    group_id: int
    category: str
    keywords: tuple[str, ...]
    priority: int = 100


@dataclass(frozen=True)
class Route:
    """Where a question goes: a rule's group with the keywords it hit, or None (default)."""

    rule_id: int | None
    group_id: int | None
    category: str
    matched: tuple[str, ...]

    @property
    def is_default(self) -> bool:
        return self.rule_id is None


DEFAULT = Route(None, None, "", ())


def route(text: str, rules: Iterable[RuleSpec]) -> Route:
    """The rule the text belongs to (see the module docstring), or ``DEFAULT``."""
    body = normalize(text)
    best: tuple[tuple[int, int, int, int], Route] | None = None
    for rule in rules:
        hits = tuple(k for k in rule.keywords if normalize(k) and normalize(k) in body)
        if not hits:
            continue
        longest = max(len(normalize(k)) for k in hits)
        rank = (rule.priority, len(hits), longest, -rule.rule_id)
        if best is None or rank > best[0]:
            best = (rank, Route(rule.rule_id, rule.group_id, rule.category, hits))
    return DEFAULT if best is None else best[1]


def _terms(text: str) -> set[str]:
    body = normalize(text)
    words = set(_WORD.findall(body))
    cjk = re.sub(r"[0-9a-z\W_]+", " ", body)
    grams = {chunk[i : i + 2] for chunk in cjk.split() for i in range(max(len(chunk) - 1, 1))}
    return {t for t in words | grams if t and t not in STOP_TERMS}


@dataclass(frozen=True)
class FaqEntry:
    faq_id: int
    question: str
    category: str = ""


def rank_faq(
    text: str, entries: Sequence[FaqEntry], *, limit: int = 5, min_score: float = 0.2
) -> list[tuple[int, float]]:
    """(faq_id, score) of the entries that share terms with ``text``, best first; score in
    (0, 1]: the share of the asker's terms the entry contains, at least ``min_score`` (so a
    shared 什么 alone does not count; ties: newer id first)."""
    wanted = _terms(text)
    if not wanted:
        return []
    scored: list[tuple[float, int]] = []
    for entry in entries:
        have = _terms(entry.question) | _terms(entry.category)
        common = wanted & have
        if not common:
            continue
        score = len(common) / len(wanted)
        if score < min_score:
            continue
        scored.append((score, entry.faq_id))
    scored.sort(key=lambda s: (-s[0], -s[1]))
    return [(faq_id, score) for score, faq_id in scored[:limit]]
