from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "huzhu.documents"
    label = "documents"
    verbose_name = "文档"

    def ready(self) -> None:
        from huzhu.accounts import policy
        from huzhu.documents.events import EVENTS
        from huzhu.documents.models import Document
        from huzhu.notify.render import register_events

        register_events(EVENTS)

        # A document hangs in the tree by its community and its owning group: the leaders of
        # that group (and of the groups above it) hold "documents.edit" there.
        policy.register_paths(
            Document,
            {
                "alliance": "community__alliance_id",
                "community": "community_id",
                "group": "group_id",
            },
        )
