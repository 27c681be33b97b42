"""The document pages' URLs."""

from huzhu.documents.views import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
