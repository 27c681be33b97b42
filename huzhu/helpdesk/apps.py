from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "huzhu.helpdesk"
    label = "helpdesk"
    verbose_name = "居民问答"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.helpdesk import settings_defs  # noqa: F401  (registers helpdesk.* settings)
        from huzhu.helpdesk.events import EVENTS
        from huzhu.helpdesk.models import FAQ, Question, RoutingRule
        from huzhu.notify.render import register_events

        # A question hangs in the tree by its community, the asker's building and the group it
        # is routed to: the members of that group (and its leader) answer it.
        policy.register_paths(
            Question,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "building": "building_id",
                "group": "routed_to_id",
            },
        )
        policy.register_paths(
            FAQ,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "group": "group_id",
            },
        )
        policy.register_paths(
            RoutingRule, {"alliance": "community__alliance_id", "community": "community_id"}
        )
        register_events(EVENTS)
