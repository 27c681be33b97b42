"""record(): the one way to write an audit entry, called inside every action's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from huzhu.core import clock
from huzhu.core.middleware import client_ip

if TYPE_CHECKING:
    from huzhu.audit.models import AuditEntry

# Keys whose values are never written to the audit log in clear.
SECRET_KEYS = {
    "password",
    "phone",
    "id_number",
    "emergency_contact",
    "address_detail",
    "token",
    "key",
    "secret",
}


def mask_values(values: dict[str, Any] | None) -> dict[str, Any]:
    """Replace secret values by a marker and make every value JSON-safe."""
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key in SECRET_KEYS or key.endswith(("_hash", "password")):
            out[key] = "***" if value not in (None, "") else ""
        elif isinstance(value, models.Model):
            out[key] = str(value.pk)
        elif isinstance(value, (str, int, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def entry_fields(
    code: str,
    *,
    actor: Any,
    target: models.Model | None = None,
    community: Any = None,
    alliance: Any = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    on_behalf_of: Any = None,
    scope: str = "",
) -> dict[str, Any]:
    """The columns of one audit entry (by attname), as ``record`` writes them; also used where
    the row is written in SQL (the time bank's one-round-trip posting)."""
    actor_obj = actor if actor is not None and getattr(actor, "pk", None) else None
    if community is None and target is not None:
        community = getattr(target, "community", None)
    # The alliance by id: no query for it (a community object always carries alliance_id).
    if alliance is not None:
        alliance_id = getattr(alliance, "pk", alliance)
    else:
        alliance_id = getattr(community, "alliance_id", None) if community is not None else None
    return {
        "created_at": clock.now(),
        "actor_id": actor_obj.pk if actor_obj is not None else None,
        "actor_label": str(actor) if actor is not None else "system",
        "on_behalf_of_id": on_behalf_of.pk if on_behalf_of is not None else None,
        "code": code,
        "target_type": target._meta.label_lower if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "target_label": str(target)[:200] if target is not None else "",
        "alliance_id": alliance_id,
        "community_id": community.pk if community is not None else None,
        "scope": scope or (str(community) if community is not None else ""),
        "old_values": mask_values(old),
        "new_values": mask_values(new),
        "ip": client_ip(),
    }


def record(
    code: str,
    *,
    actor: Any,
    target: models.Model | None = None,
    community: Any = None,
    alliance: Any = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    on_behalf_of: Any = None,
    scope: str = "",
) -> AuditEntry:
    """Write one audit entry. Must run inside the action's transaction."""
    from huzhu.audit.models import AuditEntry

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must be called inside the action's transaction")
    return AuditEntry.objects.create(
        **entry_fields(
            code,
            actor=actor,
            target=target,
            community=community,
            alliance=alliance,
            old=old,
            new=new,
            on_behalf_of=on_behalf_of,
            scope=scope,
        )
    )
