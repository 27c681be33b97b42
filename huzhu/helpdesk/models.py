"""Residents' questions (居民问答, 客服): routing rules per community, the questions with their
answer deadline as an indexed column, their append-only history, and the FAQ.

DOMAIN.md "Lockdown operations": residents ask the building leader everything in the group
chat; the software routes a question to the responsible group, answers it once (an owner and
a deadline, DOMAIN.md "Request–reply"), and an answer can be published as an FAQ that later
askers are shown first.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel, TimeStampedModel

KEYWORD_MAX = 30
KEYWORDS_MAX = 50


class RoutingRule(TimeStampedModel):
    """A category of questions and the keywords that route it to a functional group.

    Keywords are stored one per line. The rule with ``is_default`` (at most one active per
    community) names the group that receives every question no keyword matches; without one,
    the community's top-level group named ``settings.HUZHU_HELPDESK_DEFAULT_GROUP`` (客服关爱)
    does (see huzhu.helpdesk.actions.default_group).
    """

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="helpdesk_rules",
        verbose_name=_("社区"),
    )
    category = models.CharField(_("问题类别"), max_length=50)
    keywords = models.TextField(_("关键词"), blank=True, help_text=_("每行一个关键词"))
    group = models.ForeignKey(
        "orgs.Group", on_delete=models.PROTECT, related_name="+", verbose_name=_("负责小组")
    )
    priority = models.PositiveSmallIntegerField(_("优先级"), default=100)
    is_default = models.BooleanField(_("默认小组"), default=False)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("分派规则")
        verbose_name_plural = _("分派规则")
        ordering = ["community_id", "-priority", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "category"], name="helpdesk_rule_unique_category"
            ),
            models.UniqueConstraint(
                fields=["community"],
                condition=models.Q(is_default=True, active=True),
                name="helpdesk_rule_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.category

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.splitlines() if k.strip()]


class QuestionState(models.TextChoices):
    NEW = "new", _("待认领")
    ASSIGNED = "assigned", _("处理中")
    ANSWERED = "answered", _("已答复")
    CLOSED = "closed", _("已关闭")


OPEN_STATES = (QuestionState.NEW, QuestionState.ASSIGNED)


class RoutedBy(models.TextChoices):
    KEYWORD = "keyword", _("关键词")
    DEFAULT = "default", _("默认小组")
    MANUAL = "manual", _("人工转派")


class Question(TimeStampedModel):
    """One resident's question, routed to a group, taken by an owner, answered by a deadline."""

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="helpdesk_questions",
        verbose_name=_("社区"),
    )
    building = models.ForeignKey(
        "orgs.Building",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("楼栋"),
    )
    household = models.ForeignKey(
        "accounts.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    asker = models.ForeignKey(
        "accounts.Person",
        on_delete=models.PROTECT,
        related_name="helpdesk_questions",
        verbose_name=_("提问人"),
    )
    text = models.TextField(_("问题"))
    category = models.CharField(_("问题类别"), max_length=50, blank=True)
    routed_to = models.ForeignKey(
        "orgs.Group", on_delete=models.PROTECT, related_name="+", verbose_name=_("负责小组")
    )
    routed_by = models.CharField(_("分派方式"), max_length=10, choices=RoutedBy.choices)
    matched_keywords = models.CharField(_("命中关键词"), max_length=300, blank=True)
    rule = models.ForeignKey(
        RoutingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        "accounts.Person",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    state = models.CharField(
        _("状态"), max_length=10, choices=QuestionState.choices, default=QuestionState.NEW
    )
    asked_at = models.DateTimeField(_("提问时间"))
    answer_due_at = models.DateTimeField(_("答复期限"), db_index=True)
    escalation_level = models.PositiveSmallIntegerField(_("上报级别"), default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("答复"), blank=True)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    answered_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    ask_key = models.CharField(max_length=128, editable=False)
    answer_key = models.CharField(max_length=128, blank=True, editable=False)

    class Meta:
        verbose_name = _("居民问题")
        verbose_name_plural = _("居民问题")
        ordering = ["-asked_at", "-pk"]
        indexes = [
            models.Index(fields=["community", "state"]),
            models.Index(fields=["routed_to", "state"]),
            models.Index(fields=["asker", "asked_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["asker", "ask_key"], name="helpdesk_question_key"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.text[:20]}"

    def policy_scope(self) -> Any:
        """Its community, the asker's building and the routed group (and the groups above)."""
        from huzhu.accounts.policy import Scope

        group = self.routed_to
        return Scope(
            self.community.alliance_id,
            self.community_id,
            self.building_id,
            (group.pk, *group.ancestor_ids()),
        )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class QuestionEvent(AppendOnlyModel):
    """The question's history (asked, taken, reassigned, answered, escalated, published,
    closed): written once, never changed."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="events")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20)
    actor = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(
        "orgs.Group", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("问题记录")
        verbose_name_plural = _("问题记录")
        ordering = ["question_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.question_id}:{self.kind}"


class FAQVisibility(models.TextChoices):
    COMMUNITY = "community", _("社区居民可见")
    STAFF = "staff", _("仅工作人员可见")


class FAQ(TimeStampedModel):
    """A published question and answer (常见问题), shown to later askers first."""

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="helpdesk_faq",
        verbose_name=_("社区"),
    )
    group = models.ForeignKey(
        "orgs.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责小组"),
    )
    question = models.TextField(_("问题"))
    answer = models.TextField(_("答复"))
    category = models.CharField(_("问题类别"), max_length=50, blank=True)
    source_question = models.OneToOneField(
        Question,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="faq",
        verbose_name=_("来源问题"),
    )
    published_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("发布人")
    )
    published_at = models.DateTimeField(_("发布时间"), db_index=True)
    visibility = models.CharField(
        _("可见范围"),
        max_length=10,
        choices=FAQVisibility.choices,
        default=FAQVisibility.COMMUNITY,
    )
    buildings = models.ManyToManyField(
        "orgs.Building",
        blank=True,
        related_name="+",
        verbose_name=_("适用楼栋"),
        help_text=_("不选则全社区适用"),
    )
    active = models.BooleanField(_("启用"), default=True)
    helpful_count = models.PositiveIntegerField(_("已解决人次"), default=0)
    publish_key = models.CharField(max_length=128, editable=False)

    class Meta:
        verbose_name = _("常见问题")
        verbose_name_plural = _("常见问题")
        ordering = ["-published_at", "-pk"]
        indexes = [models.Index(fields=["community", "active", "visibility"])]

    def __str__(self) -> str:
        return self.question[:30]

    def policy_scope(self) -> Any:
        from huzhu.accounts.policy import Scope

        groups: tuple[int, ...] = ()
        if self.group is not None:
            groups = (self.group.pk, *self.group.ancestor_ids())
        return Scope(self.community.alliance_id, self.community_id, None, groups)
