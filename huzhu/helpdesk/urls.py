"""The helpdesk pages' URLs."""

from huzhu.helpdesk.views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
