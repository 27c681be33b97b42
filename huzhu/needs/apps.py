from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "huzhu.needs"
    label = "needs"
    verbose_name = "需求与服务"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.needs.events import EVENTS
        from huzhu.needs.models import Complaint, Need
        from huzhu.notify.render import register_events

        # A need hangs in the tree by its community and, when it has one, its building.
        policy.register_paths(
            Need,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "building": "building_id",
            },
        )
        # A complaint hangs where the need it is about does (its community and building).
        policy.register_paths(
            Complaint,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "building": "building_id",
            },
        )
        register_events(EVENTS)
