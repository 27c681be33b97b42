"""The records of a group buy that are never changed: shortages, substitutions, refunds and
payments (append-only; on PostgreSQL a trigger refuses UPDATE and DELETE as well)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel


class ShortageReason(models.TextChoices):
    SUPPLIER = "supplier", _("供应商缺货")
    DAMAGED = "damaged", _("货物损坏")
    BELOW_MINIMUM = "below_minimum", _("未达成团数量")


class Shortage(AppendOnlyModel):
    """Fewer units of an item arrived than were ordered (缺货)."""

    group_buy = models.ForeignKey(
        "lockdown.GroupBuy", on_delete=models.PROTECT, related_name="shortages"
    )
    item = models.ForeignKey("lockdown.GroupBuyItem", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("缺货数量"))
    reason = models.CharField(_("原因"), max_length=16, choices=ShortageReason.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("缺货记录")
        verbose_name_plural = _("缺货记录")
        constraints = [
            models.UniqueConstraint(fields=["group_buy", "key"], name="shortage_unique_key"),
        ]


class Substitution(AppendOnlyModel):
    """An item replaced by another product at the same price (替换)."""

    group_buy = models.ForeignKey(
        "lockdown.GroupBuy", on_delete=models.PROTECT, related_name="substitutions"
    )
    item = models.ForeignKey("lockdown.GroupBuyItem", on_delete=models.PROTECT, related_name="+")
    substitute = models.CharField(_("替换为"), max_length=100)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    recorded_by = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("替换记录")
        verbose_name_plural = _("替换记录")
        constraints = [
            models.UniqueConstraint(fields=["group_buy", "key"], name="substitution_unique_key"),
        ]


class Refund(AppendOnlyModel):
    """Money owed back to a household for units it ordered and will not receive."""

    group_buy = models.ForeignKey(
        "lockdown.GroupBuy", on_delete=models.PROTECT, related_name="refunds"
    )
    order = models.ForeignKey("lockdown.Order", on_delete=models.PROTECT, related_name="refunds")
    item = models.ForeignKey("lockdown.GroupBuyItem", on_delete=models.PROTECT, related_name="+")
    shortage = models.ForeignKey(Shortage, on_delete=models.PROTECT, related_name="refunds")
    quantity = models.PositiveIntegerField(_("退款数量"))
    amount_fen = models.BigIntegerField(_("退款金额（分）"))
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("退款记录")
        verbose_name_plural = _("退款记录")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_fen__gte=0), name="refund_not_negative"
            ),
        ]


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("现金")
    WECHAT = "wechat", _("微信转账")
    ALIPAY = "alipay", _("支付宝")
    OTHER = "other", _("其他")


class Payment(AppendOnlyModel):
    """A household's payment for its order, recorded by the leader or the finance officer (no
    payment gateway: the money moved outside the system). A mistaken record is never changed:
    it is undone by a reversal (撤销付款), a row of the opposite amount linked to it by
    ``reverses`` (one per payment), so every sum of ``amount_fen`` is the net paid."""

    group_buy = models.ForeignKey(
        "lockdown.GroupBuy", on_delete=models.PROTECT, related_name="payments"
    )
    order = models.ForeignKey("lockdown.Order", on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(_("支付方式"), max_length=8, choices=PaymentMethod.choices)
    amount_fen = models.BigIntegerField(_("金额（分）"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        verbose_name=_("撤销的付款"),
    )
    reason = models.CharField(_("撤销原因"), max_length=500, blank=True)
    recorded_by = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("付款记录")
        verbose_name_plural = _("付款记录")
        constraints = [
            models.UniqueConstraint(fields=["group_buy", "key"], name="payment_unique_key"),
            # A payment is positive; only a reversal (linked to the payment it undoes) is
            # negative.
            models.CheckConstraint(
                condition=models.Q(amount_fen__gt=0, reverses__isnull=True)
                | models.Q(amount_fen__lt=0, reverses__isnull=False),
                name="payment_positive_or_reversal",
            ),
        ]
