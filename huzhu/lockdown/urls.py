"""The group-buying pages' URLs."""

from huzhu.lockdown.views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
