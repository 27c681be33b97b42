"""The time bank's URLs: each page module lists its own patterns."""

from huzhu.timebank.views import ledger, members, merchants

app_name = "timebank"

urlpatterns = [*ledger.urlpatterns, *merchants.urlpatterns, *members.urlpatterns]
