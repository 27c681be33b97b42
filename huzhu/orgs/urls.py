from django.urls import path

from huzhu.orgs import views

app_name = "orgs"

urlpatterns = [
    path("", views.community_list, name="community_list"),
]
