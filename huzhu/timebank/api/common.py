"""The time bank router and what its operations share: the calling person."""

from __future__ import annotations

from ninja import Router

from huzhu.core.api import actor_of

router = Router(tags=["timebank"])

__all__ = ["actor_of", "router"]
