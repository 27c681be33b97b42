from django.contrib.auth import views as auth_views
from django.urls import path

from huzhu.accounts import roster_views, views

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        views.LoginView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/", views.profile, name="profile"),
    path("me/edit/", views.profile_edit, name="profile_edit"),
    path("me/availability/", views.availability, name="availability"),
    path("me/skills/", views.skills, name="skills"),
    path("me/password/", views.PasswordChange.as_view(), name="password_change"),
    path("people/", views.person_list, name="person_list"),
    path("people/import/", roster_views.roster_import, name="roster_import"),
    path("people/export/", roster_views.roster_export, name="roster_export"),
    path("people/new/", views.person_create, name="person_create"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/reveal/", views.person_reveal, name="person_reveal"),
    path("people/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("people/<int:pk>/status/", views.person_status, name="person_status"),
    path("people/<int:pk>/grant/", views.person_grant, name="person_grant"),
    path("grants/<int:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
]
