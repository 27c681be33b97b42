"""Time bank API: ledger. Operations register on huzhu.timebank.api.common.router."""

from __future__ import annotations

from huzhu.timebank.api.common import router  # noqa: F401
