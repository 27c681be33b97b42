from django.apps import AppConfig


class TimebankConfig(AppConfig):
    name = "huzhu.timebank"
    label = "timebank"
    verbose_name = "时间银行"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.notify.render import register_events
        from huzhu.timebank.events import EVENTS
        from huzhu.timebank.models import PaperEntry

        # A paper entry hangs in the tree by its community and the person's building.
        policy.register_paths(
            PaperEntry,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "building": "building_id",
            },
        )
        register_events(EVENTS)
