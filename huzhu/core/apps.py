from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "huzhu.core"
    label = "core"
    verbose_name = "核心"
