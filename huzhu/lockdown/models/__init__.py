"""Lockdown operations (DOMAIN.md "Lockdown operations", seed 000): group buying (团购)."""

from huzhu.lockdown.models.group_buy import (
    Delivery,
    GroupBuy,
    GroupBuyItem,
    GroupBuyState,
    Order,
    OrderLine,
    OrderState,
)
from huzhu.lockdown.models.records import (
    Payment,
    PaymentMethod,
    Refund,
    Shortage,
    ShortageReason,
    Substitution,
)

__all__ = [
    "Delivery",
    "GroupBuy",
    "GroupBuyItem",
    "GroupBuyState",
    "Order",
    "OrderLine",
    "OrderState",
    "Payment",
    "PaymentMethod",
    "Refund",
    "Shortage",
    "ShortageReason",
    "Substitution",
]
