from django.apps import AppConfig


class LockdownConfig(AppConfig):
    name = "huzhu.lockdown"
    label = "lockdown"
    verbose_name = "封控运营"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.lockdown.models import GroupBuy

        # A group buy hangs in the tree by its community and the functional group running it
        # (the 团长组 of the supply chain): its leaders hold "lockdown.run_group_buy" there.
        policy.register_paths(
            GroupBuy,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "group": "group_id",
            },
        )
