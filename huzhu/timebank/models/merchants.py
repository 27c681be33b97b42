"""Merchants that take points (DOMAIN.md "Members, merchants, money"): agreements with a
management fee, redemptions by signed QR code, monthly reconciliation. Money is integer fen."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", _("合作中")
    SUSPENDED = "suspended", _("已暂停")


class Merchant(models.Model):
    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="merchants"
    )
    name = models.CharField(_("商户名称"), max_length=100)
    category = models.CharField(_("类别"), max_length=50, blank=True, default="")
    address = models.CharField(_("地址"), max_length=200, blank=True, default="")
    phone = models.CharField(_("联系电话"), max_length=30, blank=True, default="")
    status = models.CharField(
        _("状态"), max_length=10, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE
    )
    account = models.OneToOneField(
        "timebank.Account",
        verbose_name=_("积分账户"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merchant",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("店员"), blank=True, related_name="merchants"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商户")
        verbose_name_plural = _("商户")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "name"], name="timebank_merchant_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MerchantAgreement(models.Model):
    """A signed agreement; the one in force on a day is the latest that started by then and
    has not ended."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.PROTECT, related_name="agreements"
    )
    fee_percent = models.DecimalField(_("管理费比例"), max_digits=5, decimal_places=2)
    starts_on = models.DateField(_("生效日期"))
    ends_on = models.DateField(_("终止日期"), null=True, blank=True)
    reference = models.CharField(_("协议编号"), max_length=60, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商户协议")
        verbose_name_plural = _("商户协议")
        ordering = ["-starts_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_percent__gte=0) & Q(fee_percent__lte=100),
                name="timebank_agreement_fee_range",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="timebank_agreement_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.fee_percent}% {self.starts_on}"


class Redemption(AppendOnlyModel):
    """A purchase at a merchant paid partly with points: 1 point = ``timebank.yuan_per_point``
    yuan off, at most ``timebank.max_yuan_per_purchase`` per purchase."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.PROTECT, related_name="redemptions"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("会员"),
        on_delete=models.PROTECT,
        related_name="redemptions",
    )
    community = models.ForeignKey(
        "orgs.Community", verbose_name=_("社区"), on_delete=models.PROTECT, related_name="+"
    )
    purchase_fen = models.BigIntegerField(_("消费金额（分）"))
    discount_fen = models.BigIntegerField(_("抵扣金额（分）"))
    points = models.BigIntegerField(_("使用积分（百分之一分）"))
    fee_percent = models.DecimalField(_("管理费比例"), max_digits=5, decimal_places=2)
    token_nonce = models.CharField(_("二维码随机数"), max_length=40, unique=True)
    idempotency_key = models.CharField(_("幂等键"), max_length=128, unique=True)
    transaction = models.OneToOneField(
        "timebank.Transaction",
        verbose_name=_("交易"),
        on_delete=models.PROTECT,
        related_name="redemption",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("收银员"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), db_index=True)

    class Meta:
        verbose_name = _("积分抵扣")
        verbose_name_plural = _("积分抵扣")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="timebank_redemption_month"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(purchase_fen__gt=0)
                & Q(discount_fen__gte=0)
                & Q(discount_fen__lte=models.F("purchase_fen"))
                & Q(points__gte=0),
                name="timebank_redemption_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.purchase_fen}"


class MerchantStatement(AppendOnlyModel):
    """A merchant's monthly reconciliation, made once per month (before the 5th)."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("商户"), on_delete=models.PROTECT, related_name="statements"
    )
    month = models.DateField(_("月份"))  # the first day of the month reconciled
    redemptions = models.PositiveIntegerField(_("笔数"))
    spending_fen = models.BigIntegerField(_("会员消费（分）"))
    discount_fen = models.BigIntegerField(_("抵扣金额（分）"))
    points = models.BigIntegerField(_("兑换积分（百分之一分）"))
    fee_percent = models.DecimalField(_("管理费比例"), max_digits=5, decimal_places=2)
    fee_fen = models.BigIntegerField(_("应收管理费（分）"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("生成人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("生成时间"))

    class Meta:
        verbose_name = _("商户月结")
        verbose_name_plural = _("商户月结")
        ordering = ["-month", "merchant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "month"], name="timebank_one_statement_per_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.month:%Y-%m}"
