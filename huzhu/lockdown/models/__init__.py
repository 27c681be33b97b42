"""Lockdown operations (DOMAIN.md "Lockdown operations", seed 000): group buying (团购) and
mass testing sessions (核酸检测)."""

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
from huzhu.lockdown.models.testing import (
    CheckInMethod,
    QueueEntry,
    TestingBatch,
    TestingKind,
    TestingSession,
    TestingState,
)

__all__ = [
    "CheckInMethod",
    "Delivery",
    "GroupBuy",
    "GroupBuyItem",
    "GroupBuyState",
    "Order",
    "OrderLine",
    "OrderState",
    "Payment",
    "PaymentMethod",
    "QueueEntry",
    "Refund",
    "Shortage",
    "ShortageReason",
    "Substitution",
    "TestingBatch",
    "TestingKind",
    "TestingSession",
    "TestingState",
]
