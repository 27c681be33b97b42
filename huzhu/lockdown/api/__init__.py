"""Group buying API (DOMAIN.md "Lockdown operations"; issue 6). Operation ids are explicit
(``huzhu_lockdown_api_<function>``).

Who: the 团长 holds "lockdown.run_group_buy" on the group running the buy (or the branch head
on the community); "lockdown.view_group_buy" reads the orders, the supplier's order, the
sorting sheets, the labels and the reconciliation; "lockdown.record_payment" records payments,
lists a buy's payment records and reverses a mistaken one (payments.py);
residents of a covered building see the buy and order for their own household ("lockdown.
order_for" orders for another); the assigned logistics volunteer marks a delivery.

Every write takes an idempotency key (header ``Idempotency-Key``, or the body field
``idempotency_key``). Opening a buy, placing an order, editing it, recording a shortage,
substitution or payment are idempotent by that key (a replay answers 200 with the record as
it stands); the transitions (close, arrive, assign, deliver, confirm, finish, cancel) are
idempotent by state.
"""

from huzhu.lockdown.api.common import router

# isort: off
from huzhu.lockdown.api import board, group_buys, orders, payments, sheets, testing  # noqa: F401
# isort: on

__all__ = ["router"]
