"""Serving a need: the supply library's offers, the assignments of volunteers, and ratings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import TimeStampedModel
from huzhu.needs.models.needs import Need, NeedType
from huzhu.needs.states import HOLDING_ASSIGNMENT_STATES, AssignmentState


class Offer(TimeStampedModel):
    """The supply library: what a volunteer or an organisation can give, where, when and how
    much of it. An offer exists on its own, without a need (Sahana Eden's pledge without a
    request)."""

    community = models.ForeignKey(
        "orgs.Community", on_delete=models.PROTECT, related_name="offers", verbose_name=_("社区")
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("志愿者"),
    )
    organisation = models.CharField(_("机构"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    need_type = models.ForeignKey(
        NeedType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("需求类型"),
    )
    skill = models.ForeignKey(
        "accounts.Skill",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("技能"),
    )
    description = models.CharField(_("内容"), max_length=500)
    capacity = models.PositiveIntegerField(_("可提供数量"), default=1)
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    latitude_e6 = models.IntegerField(_("纬度（微度）"), null=True, blank=True)
    longitude_e6 = models.IntegerField(_("经度（微度）"), null=True, blank=True)
    radius_m = models.PositiveIntegerField(_("服务半径（米）"), default=3000)
    available_from = models.DateTimeField(_("开始时间"), null=True, blank=True)
    available_until = models.DateTimeField(_("结束时间"), null=True, blank=True)
    active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("供给")
        verbose_name_plural = _("供给")
        ordering = ["-id"]
        indexes = [models.Index(fields=["community", "active"], name="offer_community_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) | ~Q(organisation=""),
                name="offer_has_giver",
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="offer_capacity_positive"),
            models.CheckConstraint(
                condition=Q(available_from__isnull=True)
                | Q(available_until__isnull=True)
                | Q(available_until__gt=models.F("available_from")),
                name="offer_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Assignment(TimeStampedModel):
    """A volunteer asked to serve a need, and their answer. At most one assignment holds a
    need (accepted, completed or no-show): a partial unique index makes "the first to accept
    wins, exactly once" true in the database, also under concurrent accepts."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="assignments")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assignments",
        verbose_name=_("志愿者"),
    )
    state = models.CharField(
        _("状态"), max_length=10, choices=AssignmentState.choices, default=AssignmentState.OFFERED
    )
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    offered_at = models.DateTimeField(_("邀请时间"))
    expires_at = models.DateTimeField(_("回复截止"), null=True, blank=True)
    responded_at = models.DateTimeField(_("回复时间"), null=True, blank=True)
    decline_reason = models.CharField(_("谢绝原因"), max_length=500, blank=True)
    check_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    check_out_at = models.DateTimeField(_("签退时间"), null=True, blank=True)
    reasons = models.JSONField(_("推荐理由"), default=list, blank=True)

    class Meta:
        verbose_name = _("派单")
        verbose_name_plural = _("派单")
        ordering = ["need_id", "id"]
        indexes = [
            models.Index(fields=["volunteer", "state"], name="assignment_volunteer_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["need"],
                condition=Q(state__in=HOLDING_ASSIGNMENT_STATES),
                name="assignment_one_holder_per_need",
            ),
            models.UniqueConstraint(
                fields=["need", "volunteer"], name="assignment_one_per_volunteer"
            ),
            models.CheckConstraint(
                condition=Q(check_out_at__isnull=True)
                | Q(check_in_at__isnull=False, check_out_at__gte=models.F("check_in_at")),
                name="assignment_check_out_after_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.need_id} → {self.volunteer_id} ({self.state})"


class Rating(models.Model):
    """The requester's 1–5 stars and comment on a completed need (DOMAIN.md "Confirm")."""

    need = models.OneToOneField(Need, on_delete=models.PROTECT, related_name="rating")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings_received"
    )
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    stars = models.PositiveSmallIntegerField(_("星级"))
    comment = models.CharField(_("评价"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("评价")
        verbose_name_plural = _("评价")
        indexes = [models.Index(fields=["volunteer", "created_at"], name="rating_volunteer")]
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.need_id}: {self.stars}★"
