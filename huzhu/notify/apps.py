from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "huzhu.notify"
    label = "notify"
    verbose_name = "通知与广播"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.notify.models import Broadcast, Receipt

        policy.register_paths(Broadcast, {"alliance": "alliance_id", "community": "community_id"})
        policy.register_paths(
            Receipt,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "building": "building_id",
            },
        )
