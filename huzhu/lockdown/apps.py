from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LockdownConfig(AppConfig):
    name = "huzhu.lockdown"
    label = "lockdown"
    verbose_name = "封控运营"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.core.registry import REGISTRY, register
        from huzhu.lockdown.events import EVENTS
        from huzhu.lockdown.models import GroupBuy, TestingSession
        from huzhu.notify.render import register_events

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
        # A testing session hangs below the group running it (its leader and members staff
        # the console), like a group buy.
        policy.register_paths(
            TestingSession,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "group": "group_id",
            },
        )
        register_events(EVENTS)
        if "lockdown.testing_batch_size" not in REGISTRY:
            register(
                "lockdown.testing_batch_size",
                10,
                _("每批叫号户数"),
                unit=_("户"),
                minimum=1,
                maximum=500,
                group=_("封控运营"),
                help_text=_("集中检测新建场次时默认每批叫多少户下楼。"),
            )
