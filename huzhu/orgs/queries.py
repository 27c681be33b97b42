"""Reads over the org tree: resolving settings-as-data up the tree."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from huzhu.core.registry import REGISTRY, Value, definition
from huzhu.orgs.models import Alliance, Building, Community, SettingOverride


def chain(node: Any) -> tuple[Building | None, Community | None, Alliance | None]:
    """(building, community, alliance) above and including ``node``."""
    building = node if isinstance(node, Building) else None
    community = building.community if building else node if isinstance(node, Community) else None
    alliance = community.alliance if community else node if isinstance(node, Alliance) else None
    return building, community, alliance


def _overrides(keys: list[str] | None, node: Any) -> dict[str, dict[int, str]]:
    building, community, alliance = chain(node)
    q = Q(pk__in=[])
    if building is not None:
        q |= Q(building=building)
    if community is not None:
        q |= Q(community=community, building__isnull=True)
    if alliance is not None:
        q |= Q(alliance=alliance)
    qs = SettingOverride.objects.filter(q)
    if keys is not None:
        qs = qs.filter(key__in=keys)
    found: dict[str, dict[int, str]] = {}
    for o in qs:
        level = 0 if o.building_id else 1 if o.community_id else 2
        found.setdefault(o.key, {})[level] = o.value
    return found


def get_setting(key: str, node: Any = None) -> Value:
    """The value of a domain number at ``node`` (building, community, alliance or None).

    Resolved building → community → alliance → the default registered in huzhu.core.registry.
    """
    spec = definition(key)
    levels = _overrides([key], node).get(key, {})
    for level in (0, 1, 2):
        if level in levels:
            return spec.parse(levels[level])
    return spec.default


def effective_settings(node: Any) -> list[dict[str, Any]]:
    """Every registered setting at ``node``: its value, whether it is set here, the inherited
    value it would fall back to."""
    building, community, _alliance = chain(node)
    own_level = 0 if building else 1 if community else 2
    found = _overrides(None, node)
    out: list[dict[str, Any]] = []
    for key, spec in REGISTRY.items():
        levels = found.get(key, {})
        inherited: Value = spec.default
        for level in (0, 1, 2):
            if level > own_level and level in levels:
                inherited = spec.parse(levels[level])
                break
        own = levels.get(own_level)
        out.append(
            {
                "spec": spec,
                "key": key,
                "value": spec.parse(own) if own is not None else inherited,
                "overridden": own is not None,
                "inherited": inherited,
            }
        )
    return out
