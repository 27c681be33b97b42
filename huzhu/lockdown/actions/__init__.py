"""Every state change of lockdown operations (group buying). Each action: one transaction,
policy.require, an audit record, DomainError with a localized message, idempotent by key or
by state."""

from huzhu.lockdown.actions.delivery import (
    assign_deliveries,
    confirm_received,
    logistics_volunteers,
    mark_delivered,
)
from huzhu.lockdown.actions.group_buy import (
    ItemSpec,
    cancel_group_buy,
    close_group_buy,
    finish_group_buy,
    mark_arrived,
    open_group_buy,
    publish_group_buy,
    record_supplier_bill,
)
from huzhu.lockdown.actions.money import (
    record_payment,
    record_shortage,
    record_substitution,
    reverse_payment,
)
from huzhu.lockdown.actions.orders import cancel_order, edit_order, place_order

__all__ = [
    "ItemSpec",
    "assign_deliveries",
    "cancel_group_buy",
    "cancel_order",
    "close_group_buy",
    "confirm_received",
    "edit_order",
    "finish_group_buy",
    "logistics_volunteers",
    "mark_arrived",
    "mark_delivered",
    "open_group_buy",
    "place_order",
    "publish_group_buy",
    "record_payment",
    "record_shortage",
    "record_substitution",
    "record_supplier_bill",
    "reverse_payment",
]
