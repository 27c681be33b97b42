from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "huzhu.audit"
    label = "audit"
    verbose_name = "审计"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.audit.models import AuditEntry

        # Alliance-level entries (community null, alliance set) belong to the alliance; the
        # default path (community__alliance_id) would hide them from alliance grants.
        policy.register_paths(AuditEntry, {"alliance": "alliance_id", "community": "community_id"})
