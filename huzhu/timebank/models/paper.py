"""The paper ledger (纸质积分登记本): slips of elderly residents entered by a building manager
and settled only after a second person checks them (DOMAIN.md "The time bank")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PaperKind(models.TextChoices):
    EARN = "earn", _("服务获得")
    SPEND = "spend", _("积分支付")


class PaperStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    SETTLED = "settled", _("已入账")
    REJECTED = "rejected", _("已退回")


class PaperEntry(models.Model):
    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="+"
    )
    building = models.ForeignKey(
        "orgs.Building",
        verbose_name=_("楼栋"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("居民"),
        on_delete=models.PROTECT,
        related_name="paper_entries",
    )
    kind = models.CharField(_("类型"), max_length=8, choices=PaperKind.choices)
    # EARN: hours served by ``person``; SPEND: points ``person`` paid to ``counterparty``.
    hours = models.DecimalField(
        _("服务时长"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    points = models.BigIntegerField(_("积分（百分之一分）"), null=True, blank=True)
    counterparty = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("收款志愿者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    service_date = models.DateField(_("服务日期"))
    slip_number = models.CharField(_("登记本编号"), max_length=40)
    note = models.CharField(_("说明"), max_length=200, blank=True, default="")
    status = models.CharField(
        _("状态"), max_length=10, choices=PaperStatus.choices, default=PaperStatus.PENDING
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    entered_at = models.DateTimeField(_("录入时间"))
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("复核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    checked_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    reject_reason = models.CharField(_("退回原因"), max_length=200, blank=True, default="")
    transaction = models.OneToOneField(
        "timebank.Transaction",
        verbose_name=_("交易"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="paper_entry",
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=128, unique=True)

    class Meta:
        verbose_name = _("纸质登记")
        verbose_name_plural = _("纸质登记")
        ordering = ["-entered_at", "-pk"]
        indexes = [models.Index(fields=["community", "status"], name="timebank_paper_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "slip_number"], name="timebank_paper_slip_unique"
            ),
            models.CheckConstraint(
                condition=(Q(kind="earn") & Q(hours__gt=0) & Q(points__isnull=True))
                | (Q(kind="spend") & Q(points__gt=0) & Q(counterparty__isnull=False)),
                name="timebank_paper_amount_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True) | ~Q(checked_by=models.F("entered_by")),
                name="timebank_paper_second_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slip_number} ({self.get_status_display()})"
