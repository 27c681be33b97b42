from django.urls import path

from huzhu.orgs import views

app_name = "orgs"

urlpatterns = [
    path("", views.community_list, name="community_list"),
    path("new/", views.community_create, name="community_create"),
    path("<int:pk>/", views.community_detail, name="community_detail"),
    path("<int:pk>/edit/", views.community_edit, name="community_edit"),
    path("<int:community_pk>/settings/", views.community_settings, name="settings"),
    path("<int:community_pk>/buildings/new/", views.building_create, name="building_create"),
    path("buildings/<int:pk>/", views.building_detail, name="building_detail"),
    path("buildings/<int:pk>/edit/", views.building_edit, name="building_edit"),
    path("buildings/<int:pk>/settings/", views.building_settings, name="building_settings"),
    path(
        "buildings/<int:building_pk>/households/new/",
        views.household_create,
        name="household_create",
    ),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("households/<int:pk>/reveal/", views.household_reveal, name="household_reveal"),
    path("<int:community_pk>/groups/", views.group_list, name="group_list"),
    path("<int:community_pk>/groups/new/", views.group_create, name="group_create"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", views.group_edit, name="group_edit"),
    path("<int:community_pk>/jobs/new/", views.job_create, name="job_create"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/edit/", views.job_edit, name="job_edit"),
]
