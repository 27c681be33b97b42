"""Pages of the org tree: communities, buildings, households, groups, job descriptions, settings.

Every view: fetch in scope → policy.require (404 outside scope, 403 without the permission) →
parse the form → call the action → redirect with a message. Rules live in huzhu.orgs.actions.

One module per part of the tree; this package re-exports every view that huzhu.orgs.urls names.
"""

from huzhu.orgs.views.buildings import (
    building_create,
    building_detail,
    building_edit,
    household_create,
    household_detail,
    household_edit,
    household_reveal,
)
from huzhu.orgs.views.communities import (
    community_create,
    community_detail,
    community_edit,
    community_list,
)
from huzhu.orgs.views.groups import (
    group_create,
    group_detail,
    group_edit,
    group_list,
    job_create,
    job_detail,
    job_edit,
)
from huzhu.orgs.views.settings import building_settings, community_settings

__all__ = [
    "building_create",
    "building_detail",
    "building_edit",
    "building_settings",
    "community_create",
    "community_detail",
    "community_edit",
    "community_list",
    "community_settings",
    "group_create",
    "group_detail",
    "group_edit",
    "group_list",
    "household_create",
    "household_detail",
    "household_edit",
    "household_reveal",
    "job_create",
    "job_detail",
    "job_edit",
]
