"""Time bank API: my points and statements, transfers, the paper ledger, reversals, merchants
and redemption, memberships. Operation ids are explicit (``huzhu_timebank_api_<function>``).

Importing the operation modules registers their operations on ``router``.
"""

from huzhu.timebank.api.common import router

# isort: off
from huzhu.timebank.api import ledger, merchants, members  # noqa: F401
# isort: on

__all__ = ["router"]
