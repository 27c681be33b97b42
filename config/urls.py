"""URL configuration. Every route here is covered by tests/test_permission_matrix.py."""

from django.contrib import admin
from django.urls import include, path

from config.api import api
from huzhu.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("ui/large-text/", core_views.toggle_large_text, name="toggle_large_text"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("huzhu.accounts.urls")),
    path("orgs/", include("huzhu.orgs.urls")),
    path("audit/", include("huzhu.audit.urls")),
    path("notify/", include("huzhu.notify.urls")),
    path("timebank/", include("huzhu.timebank.urls")),
    path("needs/", include("huzhu.needs.urls")),
    path("lockdown/", include("huzhu.lockdown.urls")),
    path("documents/", include("huzhu.documents.urls")),
    path("helpdesk/", include("huzhu.helpdesk.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
