"""The needs pages' URLs: each page module lists its own patterns."""

from huzhu.needs.views import manage, resident, volunteer

app_name = "needs"

urlpatterns = [*resident.urlpatterns, *volunteer.urlpatterns, *manage.urlpatterns]
