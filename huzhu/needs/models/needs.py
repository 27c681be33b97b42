"""The demand library: need types, needs with their item and skill lines, and their history
(DOMAIN.md "The core loop")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.accounts import pii
from huzhu.core.models import AppendOnlyModel, TimeStampedModel, localized
from huzhu.needs.states import FINAL_STATES, NeedState

MICRO = 1_000_000


def to_micro(value: Decimal | float | int | str | None) -> int | None:
    """A coordinate in degrees as integer micro-degrees (31.230000 → 31230000)."""
    if value is None:
        return None
    return int((Decimal(str(value)) * MICRO).to_integral_value())


class NeedType(TimeStampedModel):
    """An entry of the editable need taxonomy (陪诊, 代购, 维修, 理发, 家政, 心理, 物资 …)."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    name_en = models.CharField(_("英文名称"), max_length=50, blank=True)
    skills = models.ManyToManyField(
        "accounts.Skill", blank=True, related_name="need_types", verbose_name=_("所需技能")
    )
    default_duration_minutes = models.PositiveIntegerField(_("默认时长（分钟）"), default=60)
    default_radius_m = models.PositiveIntegerField(_("默认搜索半径（米）"), default=3000)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("需求类型")
        verbose_name_plural = _("需求类型")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_duration_minutes__gt=0), name="needtype_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return localized(self.name, self.name_en)


class GenderRequirement(models.TextChoices):
    ANY = "", _("不限")
    FEMALE = "F", _("女")
    MALE = "M", _("男")


class Urgency(models.IntegerChoices):
    LOW = 0, _("不急")
    NORMAL = 1, _("一般")
    HIGH = 2, _("较急")
    URGENT = 3, _("紧急")


class Recurrence(models.TextChoices):
    NONE = "none", _("一次性")
    WEEKLY = "weekly", _("每周")
    BIWEEKLY = "biweekly", _("每两周")
    MONTHLY = "monthly", _("每月")


class EscalationLevel(models.IntegerChoices):
    NONE = 0, _("未上报")
    BRANCH_HEAD = 1, _("已上报分会负责人")
    REMATCHED = 2, _("已重新匹配")


class NeedQuerySet(models.QuerySet["Need"]):
    def open(self) -> NeedQuerySet:
        return self.exclude(state__in=FINAL_STATES)

    def escalated(self) -> NeedQuerySet:
        """Overdue needs handed up to the branch head and not closed yet (their list)."""
        return self.open().filter(escalation_level__gt=EscalationLevel.NONE)


class Need(TimeStampedModel):
    """One request for help: what, when, where, for whom, and where it stands."""

    community = models.ForeignKey(
        "orgs.Community", on_delete=models.PROTECT, related_name="needs", verbose_name=_("社区")
    )
    building = models.ForeignKey(
        "orgs.Building",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="needs",
        verbose_name=_("楼栋"),
    )
    household = models.ForeignKey(
        "accounts.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="needs",
        verbose_name=_("住户"),
    )
    # An address other than the household's is personal data: encrypted at rest (PIPL Art. 51).
    address_detail = pii.EncryptedTextField(_("服务地址"), blank=True)
    latitude_e6 = models.IntegerField(_("纬度（微度）"), null=True, blank=True)
    longitude_e6 = models.IntegerField(_("经度（微度）"), null=True, blank=True)

    need_type = models.ForeignKey(
        NeedType, on_delete=models.PROTECT, related_name="needs", verbose_name=_("需求类型")
    )
    description = models.TextField(_("需求描述"), max_length=2000)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    duration_minutes = models.PositiveIntegerField(_("预计时长（分钟）"))
    radius_m = models.PositiveIntegerField(_("搜索半径（米）"))

    gender = models.CharField(
        _("性别要求"), max_length=1, choices=GenderRequirement.choices, blank=True, default=""
    )
    needs_strength = models.BooleanField(_("需要体力"), default=False)
    certification_required = models.BooleanField(_("需要资格证书"), default=False)
    language = models.CharField(_("语言要求"), max_length=20, blank=True)
    urgency = models.PositiveSmallIntegerField(
        _("紧急程度"), choices=Urgency.choices, default=Urgency.NORMAL
    )

    pay_with_points = models.BooleanField(_("积分支付"), default=False)
    points = models.BigIntegerField(_("支付积分（百分之一分）"), default=0)
    hold = models.ForeignKey(
        "timebank.Hold",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("积分冻结"),
    )

    recurrence = models.CharField(
        _("重复"), max_length=10, choices=Recurrence.choices, default=Recurrence.NONE
    )
    preferred_volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("首选志愿者"),
    )
    series = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="occurrences",
        verbose_name=_("所属系列"),
    )

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="needs_requested",
        verbose_name=_("服务对象"),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="needs_published",
        verbose_name=_("发布人"),
    )

    state = models.CharField(
        _("状态"), max_length=12, choices=NeedState.choices, default=NeedState.SUBMITTED
    )
    state_changed_at = models.DateTimeField(_("状态变更时间"))

    # Deadlines, swept by huzhu.needs.sweeper through partial indexes.
    review_due_at = models.DateTimeField(_("审核截止"), null=True, blank=True)
    accept_due_at = models.DateTimeField(_("接单截止"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("上报级别"), choices=EscalationLevel.choices, default=EscalationLevel.NONE
    )
    escalated_at = models.DateTimeField(_("上报时间"), null=True, blank=True)

    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reject_reason = models.CharField(_("驳回原因"), max_length=500, blank=True)

    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    slip_number = models.CharField(_("纸质单号"), max_length=40, blank=True)

    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=500, blank=True)
    # The publisher's idempotency key (the API's Idempotency-Key, a page's form token): a
    # publish sent again with it answers the need it made (unique per publisher when set).
    publish_key = models.CharField(_("幂等键"), max_length=128, blank=True, default="")

    objects = NeedQuerySet.as_manager()

    class Meta:
        verbose_name = _("需求")
        verbose_name_plural = _("需求")
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["community", "state", "starts_at"], name="need_community_state"),
            models.Index(
                fields=["review_due_at"],
                condition=Q(state=NeedState.SUBMITTED),
                name="need_review_due",
            ),
            models.Index(
                fields=["accept_due_at"],
                condition=Q(state=NeedState.OFFERED),
                name="need_accept_due",
            ),
            models.Index(
                fields=["starts_at"],
                condition=Q(state__in=[NeedState.SUBMITTED, NeedState.APPROVED, NeedState.OFFERED]),
                name="need_unstaffed_start",
            ),
            models.Index(fields=["requester", "state"], name="need_requester_state"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="need_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(points__gte=0), name="need_points_not_negative"),
            models.CheckConstraint(
                condition=Q(pay_with_points=False) | Q(points__gt=0),
                name="need_paid_with_points_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="need_duration_positive"
            ),
            models.UniqueConstraint(
                fields=["published_by", "publish_key"],
                condition=~Q(publish_key=""),
                name="need_publish_key",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.need_type}"

    @property
    def on_behalf(self) -> bool:
        """Published by someone else (a building manager or broker) for the requester."""
        return self.published_by_id != self.requester_id

    def scope_node(self) -> Any:
        """The node permissions are checked on: the building when known, else the community."""
        return self.building if self.building_id is not None else self.community

    def point(self) -> tuple[int, int] | None:
        if self.latitude_e6 is None or self.longitude_e6 is None:
            return None
        return (self.latitude_e6, self.longitude_e6)

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        return (self.starts_at, self.ends_at)


class LineKind(models.TextChoices):
    ITEM = "item", _("物资")
    SKILL = "skill", _("人手")


class NeedLine(TimeStampedModel):
    """An item line ("20 boxes of masks") or a skill line ("3 people who can drive") of a need,
    with its progress: committed, in transit, fulfilled (Sahana Eden's pledges)."""

    need = models.ForeignKey(
        Need, on_delete=models.CASCADE, related_name="lines", verbose_name=_("需求")
    )
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类别"), max_length=5, choices=LineKind.choices)
    description = models.CharField(_("内容"), max_length=200)
    skill = models.ForeignKey(
        "accounts.Skill",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("技能"),
    )
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    quantity = models.PositiveIntegerField(_("需要数量"))
    committed = models.PositiveIntegerField(_("已认领"), default=0)
    in_transit = models.PositiveIntegerField(_("在途"), default=0)
    fulfilled = models.PositiveIntegerField(_("已到位"), default=0)

    class Meta:
        verbose_name = _("需求明细")
        verbose_name_plural = _("需求明细")
        ordering = ["need_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="needline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(in_transit__lte=models.F("committed") - models.F("fulfilled")),
                name="needline_progress_within_committed",
            ),
            models.CheckConstraint(
                condition=Q(kind=LineKind.ITEM) | Q(skill__isnull=False),
                name="needline_skill_line_has_skill",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} ×{self.quantity}"

    @property
    def outstanding(self) -> int:
        """How many are still wanted (neither committed nor fulfilled)."""
        return max(0, self.quantity - self.committed)


class NeedEvent(AppendOnlyModel):
    """One step of a need's history: who moved it from which state to which, when, and why."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="events")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    transition = models.CharField(_("操作"), max_length=20)
    from_state = models.CharField(_("原状态"), max_length=12, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12)
    at = models.DateTimeField(_("时间"))
    note = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("需求记录")
        verbose_name_plural = _("需求记录")
        ordering = ["need_id", "id"]
        indexes = [models.Index(fields=["need", "at"], name="needevent_need_at")]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.from_state}→{self.to_state}"
