"""Every state change of the time bank, one module per area:

- ``ledger``: the posting primitive and what is built directly on it (service credit, transfer,
  reversal, holds); re-exported here, so ``actions.post_transaction`` keeps working;
- ``rules``: the postings DOMAIN.md names (first-service day, no-show, birthday, referral,
  reversal window);
- ``paper``: the paper ledger with its second-person check;
- ``merchants``: merchants, agreements, QR redemption, monthly reconciliation;
- ``members``: memberships, payments, levels, referral codes, leaderboard.
"""

from huzhu.timebank.actions.ledger import (
    HOLDS_CODE,
    PENALTIES_CODE,
    credit_service,
    hold,
    issuing_account,
    person_account,
    post_transaction,
    release_hold,
    reverse_transaction,
    system_account,
    transfer,
)

__all__ = [
    "HOLDS_CODE",
    "PENALTIES_CODE",
    "credit_service",
    "hold",
    "issuing_account",
    "person_account",
    "post_transaction",
    "release_hold",
    "reverse_transaction",
    "system_account",
    "transfer",
]
