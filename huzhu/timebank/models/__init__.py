"""The time bank's models: the ledger, the paper ledger, merchants, and memberships."""

from huzhu.timebank.models.ledger import (
    Account,
    AccountKind,
    Hold,
    Posting,
    ServiceDay,
    Transaction,
    TransactionKind,
)
from huzhu.timebank.models.members import (
    Leaderboard,
    LevelChange,
    Membership,
    MembershipPayment,
    PaymentMethod,
    Referral,
    ReferralCode,
    Tier,
)
from huzhu.timebank.models.merchants import (
    Merchant,
    MerchantAgreement,
    MerchantStatement,
    MerchantStatus,
    Redemption,
)
from huzhu.timebank.models.paper import PaperEntry, PaperKind, PaperStatus

__all__ = [
    "Account",
    "AccountKind",
    "Hold",
    "Leaderboard",
    "LevelChange",
    "Membership",
    "MembershipPayment",
    "Merchant",
    "MerchantAgreement",
    "MerchantStatement",
    "MerchantStatus",
    "PaperEntry",
    "PaperKind",
    "PaperStatus",
    "PaymentMethod",
    "Posting",
    "Redemption",
    "Referral",
    "ReferralCode",
    "ServiceDay",
    "Tier",
    "Transaction",
    "TransactionKind",
]
