"""Complaints against a service (DOMAIN.md "Activities, complaints, safety": contact both sides
within 1 hour, a result within 24 hours; outcomes: deduct points, suspend the volunteer for a
week and retrain; a malicious complainant is frozen for a month).

A complaint is about one served need: one side of the service (the complainant — the person
served, or the volunteer) against the other (the respondent — the volunteer by default). Its
two deadlines are indexed columns swept by huzhu.needs.sweeper; ``escalation_level`` only
rises, so each deadline is handed up once. ``ComplaintEvent`` is its append-only history (the
ORM refuses changes; on PostgreSQL a trigger refuses as well, migration 0006).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel, TimeStampedModel
from huzhu.needs.models.needs import Need


class ComplaintState(models.TextChoices):
    OPEN = "open", _("待联系")
    CONTACTED = "contacted", _("处理中")
    RESOLVED = "resolved", _("已处理")
    DISMISSED = "dismissed", _("不予支持")


# A complaint in one of these states still waits for a result.
OPEN_COMPLAINT_STATES = (ComplaintState.OPEN, ComplaintState.CONTACTED)


class ComplaintCategory(models.TextChoices):
    ATTITUDE = "attitude", _("服务态度")
    QUALITY = "quality", _("服务质量")
    PUNCTUALITY = "punctuality", _("迟到或爽约")
    CONDUCT = "conduct", _("不当行为")
    SAFETY = "safety", _("安全问题")
    OTHER = "other", _("其他")


class ComplaintDecision(models.TextChoices):
    """What the handler decided: upheld (with the sanctions chosen), not upheld, or found to
    be malicious (the complainant is frozen)."""

    UPHELD = "upheld", _("投诉成立")
    NOT_UPHELD = "not_upheld", _("投诉不成立")
    MALICIOUS = "malicious", _("恶意投诉")


class ComplaintLevel(models.IntegerChoices):
    NONE = 0, _("未上报")
    CONTACT_OVERDUE = 1, _("联系超时已上报")
    RESULT_OVERDUE = 2, _("处理超时已上报")


class ComplaintQuerySet(models.QuerySet["Complaint"]):
    def open(self) -> ComplaintQuerySet:
        return self.filter(state__in=OPEN_COMPLAINT_STATES)

    def escalated(self) -> ComplaintQuerySet:
        """Open complaints handed up past a deadline (the branch head's list)."""
        return self.open().filter(escalation_level__gt=ComplaintLevel.NONE)


class Complaint(TimeStampedModel):
    """One complaint about a service, its deadlines, and its outcome."""

    need = models.ForeignKey(
        Need, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("需求")
    )
    assignment = models.ForeignKey(
        "needs.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("派单"),
    )
    community = models.ForeignKey(
        "orgs.Community", on_delete=models.PROTECT, related_name="+", verbose_name=_("社区")
    )
    building = models.ForeignKey(
        "orgs.Building",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("楼栋"),
    )
    complainant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="complaints_made",
        verbose_name=_("投诉人"),
    )
    respondent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="complaints_received",
        verbose_name=_("被投诉人"),
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("登记人"),
    )
    category = models.CharField(_("投诉类别"), max_length=12, choices=ComplaintCategory.choices)
    description = models.TextField(_("投诉内容"), max_length=2000)
    state = models.CharField(
        _("状态"), max_length=10, choices=ComplaintState.choices, default=ComplaintState.OPEN
    )
    filed_at = models.DateTimeField(_("投诉时间"))

    # Deadlines, swept by huzhu.needs.sweeper through partial indexes.
    contact_due_at = models.DateTimeField(_("联系截止"))
    result_due_at = models.DateTimeField(_("处理截止"))
    escalation_level = models.PositiveSmallIntegerField(
        _("上报级别"), choices=ComplaintLevel.choices, default=ComplaintLevel.NONE
    )
    escalated_at = models.DateTimeField(_("上报时间"), null=True, blank=True)

    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contacted_at = models.DateTimeField(_("联系时间"), null=True, blank=True)
    contact_note = models.CharField(_("联系记录"), max_length=1000, blank=True)

    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decision = models.CharField(
        _("处理结论"), max_length=12, choices=ComplaintDecision.choices, blank=True
    )
    reason = models.CharField(_("处理说明"), max_length=1000, blank=True)
    # Points the handler decided to deduct, what was charged (never below a zero balance) and
    # the posting that charged it (hundredths of a point).
    points_decided = models.BigIntegerField(_("决定扣除积分"), default=0)
    points_deducted = models.BigIntegerField(_("实际扣除积分"), default=0)
    deduction = models.ForeignKey(
        "timebank.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("扣分记录"),
    )
    suspended_until = models.DateTimeField(_("暂停服务至"), null=True, blank=True)
    # There is no training model yet: the requirement is recorded here (and in the reason of
    # the volunteer's suspension) until a training record can close it.
    retraining_required = models.BooleanField(_("需重新培训"), default=False)
    complainant_frozen_until = models.DateTimeField(_("投诉人冻结至"), null=True, blank=True)

    idempotency_key = models.CharField(_("幂等键"), max_length=128, blank=True, default="")

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")
        ordering = ["-filed_at", "-id"]
        indexes = [
            models.Index(fields=["community", "state", "filed_at"], name="complaint_community"),
            models.Index(
                fields=["contact_due_at"],
                condition=Q(state="open"),
                name="complaint_contact_due",
            ),
            models.Index(
                fields=["result_due_at"],
                condition=Q(state__in=["open", "contacted"]),
                name="complaint_result_due",
            ),
            models.Index(fields=["respondent", "state"], name="complaint_respondent"),
            models.Index(fields=["complainant", "state"], name="complaint_complainant"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["filed_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="complaint_key_per_filer",
            ),
            # One complaint at a time per side of a service: a second waits for the first.
            models.UniqueConstraint(
                fields=["need", "complainant"],
                condition=Q(state__in=["open", "contacted"]),
                name="complaint_one_open_per_side",
            ),
            models.CheckConstraint(
                condition=~Q(complainant=models.F("respondent")),
                name="complaint_not_against_self",
            ),
            models.CheckConstraint(
                condition=Q(result_due_at__gte=models.F("contact_due_at")),
                name="complaint_result_after_contact",
            ),
            models.CheckConstraint(
                condition=Q(points_decided__gte=0)
                & Q(points_deducted__gte=0)
                & Q(points_deducted__lte=models.F("points_decided")),
                name="complaint_points_within_decided",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["open", "contacted"]) | ~Q(decision=""),
                name="complaint_closed_has_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.need_id} ({self.state})"

    def scope_node(self) -> Any:
        """The node permissions are checked on: the building when known, else the community."""
        return self.building if self.building_id is not None else self.community

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_COMPLAINT_STATES


class ComplaintEvent(AppendOnlyModel):
    """One step of a complaint's history: filed, contacted, escalated, resolved, dismissed."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="events")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("操作"), max_length=20)
    from_state = models.CharField(_("原状态"), max_length=10, blank=True)
    to_state = models.CharField(_("新状态"), max_length=10)
    at = models.DateTimeField(_("时间"))
    note = models.CharField(_("备注"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("投诉记录")
        verbose_name_plural = _("投诉记录")
        ordering = ["complaint_id", "id"]
        indexes = [models.Index(fields=["complaint", "at"], name="complaintevent_at")]

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.action}"
