"""The needs pages' URLs: each page module lists its own patterns."""

from huzhu.needs.views import (
    batch,
    broker,
    complaints,
    manage,
    resident,
    tracking,
    types,
    volunteer,
)

app_name = "needs"

urlpatterns = [
    *resident.urlpatterns,
    *volunteer.urlpatterns,
    *manage.urlpatterns,
    *tracking.urlpatterns,
    *complaints.urlpatterns,
    *batch.urlpatterns,
    *broker.urlpatterns,
    *types.urlpatterns,
]
