"""The organisation tree in the Django admin, for superusers only."""

from __future__ import annotations

from django.contrib import admin

from huzhu.accounts.admin import SuperuserOnlyAdmin
from huzhu.orgs.models import (
    Alliance,
    Building,
    Community,
    Group,
    JobDescription,
    SettingOverride,
)


@admin.register(Alliance)
class AllianceAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "name_en", "created_at")
    search_fields = ("name", "name_en")


@admin.register(Community)
class CommunityAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "name_en", "alliance", "district", "latitude", "longitude")
    list_filter = ("alliance",)
    list_select_related = ("alliance",)
    search_fields = ("name", "name_en", "district")


@admin.register(Building)
class BuildingAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "community", "floors", "latitude", "longitude")
    list_filter = ("community",)
    list_select_related = ("community",)
    search_fields = ("name", "community__name")


class ChildGroupInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Group
    fk_name = "parent"
    extra = 0
    fields = ("name", "name_en", "community", "building")
    raw_id_fields = ("community", "building")


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "name_en", "parent", "community", "building")
    list_filter = ("community",)
    list_select_related = ("parent", "community", "building__community")
    search_fields = ("name", "name_en")
    raw_id_fields = ("community", "building", "parent")
    inlines = (ChildGroupInline,)


@admin.register(JobDescription)
class JobDescriptionAdmin(SuperuserOnlyAdmin):
    list_display = ("title", "group", "role", "community")
    list_filter = ("community", "role")
    list_select_related = ("group", "community")
    search_fields = ("title", "purpose", "duties")
    raw_id_fields = ("community", "group")


@admin.register(SettingOverride)
class SettingOverrideAdmin(SuperuserOnlyAdmin):
    list_display = ("key", "value", "alliance", "community", "building", "updated_by")
    list_filter = ("key",)
    list_select_related = ("alliance", "community", "building__community", "updated_by")
    search_fields = ("key",)
    raw_id_fields = ("alliance", "community", "building", "updated_by")
