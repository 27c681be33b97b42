from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "huzhu.accounts"
    label = "accounts"
    verbose_name = "账户"
