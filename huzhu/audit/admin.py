"""Audit entries in the Django admin: read-only. No add, change or delete, not even for
superusers; the model and (on PostgreSQL) the database refuse as well."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huzhu.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "created_at",
        "actor_label",
        "code",
        "target_type",
        "target_label",
        "community",
        "ip",
    )
    list_filter = ("code", "target_type", "community")
    search_fields = ("actor_label", "code", "target_label", "target_id")
    date_hierarchy = "created_at"
    list_select_related = ("community",)
    ordering = ("-created_at", "-id")
    actions = None
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
