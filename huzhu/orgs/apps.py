from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "huzhu.orgs"
    label = "orgs"
    verbose_name = "组织"
