"""Mass testing sessions (核酸检测, and any mass service run the same way such as handing out
antigen kits): a session at a place and time covering some buildings, a calling queue of
their households ordered by building, floor and room, the batches called, and each household's
check-in or absence.

A household's status in a session: tested (checked in), absent (called, did not come, marked
by the staff) or not yet. The follow-up list is every household not tested.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel, TimeStampedModel


class TestingKind(models.TextChoices):
    NUCLEIC_ACID = "nucleic_acid", _("核酸检测")
    ANTIGEN = "antigen", _("抗原发放")
    OTHER = "other", _("其他集中服务")


class TestingState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结束")


class CheckInMethod(models.TextChoices):
    CODE = "code", _("扫码")
    SEARCH = "search", _("搜索")


class TestingSession(TimeStampedModel):
    """One mass testing (or mass service) session of a community."""

    __test__ = False  # not a pytest test class

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="testing_sessions",
        verbose_name=_("社区"),
    )
    group = models.ForeignKey(
        "orgs.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="testing_sessions",
        verbose_name=_("负责小组"),
    )
    kind = models.CharField(
        _("类型"), max_length=16, choices=TestingKind.choices, default=TestingKind.NUCLEIC_ACID
    )
    title = models.CharField(_("名称"), max_length=100)
    place = models.CharField(_("地点"), max_length=100)
    starts_at = models.DateTimeField(_("开始时间"), db_index=True)
    batch_size = models.PositiveSmallIntegerField(_("每批户数"))
    buildings = models.ManyToManyField(
        "orgs.Building", related_name="testing_sessions", verbose_name=_("覆盖楼栋")
    )
    state = models.CharField(
        _("状态"), max_length=8, choices=TestingState.choices, default=TestingState.DRAFT
    )
    created_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人")
    )
    batches_called = models.PositiveIntegerField(_("已叫批次"), default=0)
    open_key = models.CharField(max_length=128, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("集中检测")
        verbose_name_plural = _("集中检测")
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["community", "state"])]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "open_key"], name="testingsession_unique_key"
            ),
            models.CheckConstraint(
                condition=models.Q(batch_size__gte=1), name="testingsession_batch_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def policy_scope(self) -> Any:
        """Where the session sits: its community and the group running it (and above)."""
        from huzhu.accounts.policy import Scope

        community = self.community
        groups: tuple[int, ...] = ()
        if self.group is not None:
            groups = (self.group.pk, *self.group.ancestor_ids())
        return Scope(community.alliance_id, community.pk, None, groups)


class QueueEntry(models.Model):
    """A household in a session's calling queue: its place in the order, the batch it was
    called in, and its check-in or absence."""

    session = models.ForeignKey(TestingSession, on_delete=models.CASCADE, related_name="queue")
    household = models.ForeignKey(
        "accounts.Household", on_delete=models.PROTECT, related_name="testing_entries"
    )
    building = models.ForeignKey("orgs.Building", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField(_("叫号顺序"))
    batch = models.PositiveIntegerField(_("批次"), null=True, blank=True)
    called_at = models.DateTimeField(_("叫号时间"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    check_in_method = models.CharField(
        _("签到方式"), max_length=8, choices=CheckInMethod.choices, blank=True
    )
    absent_at = models.DateTimeField(_("缺席登记时间"), null=True, blank=True)
    absent_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("叫号队列")
        verbose_name_plural = _("叫号队列")
        ordering = ["session_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "household"], name="queueentry_one_per_household"
            ),
            models.UniqueConstraint(fields=["session", "sequence"], name="queueentry_sequence"),
        ]
        indexes = [
            models.Index(fields=["session", "batch"]),
            models.Index(fields=["session", "building"]),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.sequence}"

    @property
    def status(self) -> str:
        if self.checked_in_at is not None:
            return "tested"
        if self.absent_at is not None:
            return "absent"
        return "pending"


class TestingBatch(AppendOnlyModel):
    """A batch called down (叫号): never changed once written."""

    __test__ = False  # not a pytest test class

    session = models.ForeignKey(TestingSession, on_delete=models.PROTECT, related_name="batches")
    number = models.PositiveIntegerField(_("批次"))
    households = models.PositiveIntegerField(_("户数"))
    first_sequence = models.PositiveIntegerField()
    last_sequence = models.PositiveIntegerField()
    called_by = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("叫号批次")
        verbose_name_plural = _("叫号批次")
        ordering = ["session_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="testingbatch_number"),
            models.UniqueConstraint(fields=["session", "key"], name="testingbatch_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.number}"
