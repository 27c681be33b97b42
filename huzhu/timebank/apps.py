from django.apps import AppConfig


class TimebankConfig(AppConfig):
    name = "huzhu.timebank"
    label = "timebank"
    verbose_name = "时间银行"
