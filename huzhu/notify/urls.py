from django.urls import path

from huzhu.notify import views

app_name = "notify"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path("inbox/notifications/<int:pk>/", views.notification_detail, name="notification_detail"),
    path("inbox/broadcasts/<int:pk>/", views.receipt_detail, name="receipt_detail"),
    path("inbox/broadcasts/<int:pk>/reply/", views.receipt_reply, name="receipt_reply"),
    path("preferences/", views.preferences, name="preferences"),
    path("broadcasts/", views.broadcast_list, name="broadcast_list"),
    path("broadcasts/new/", views.broadcast_create, name="broadcast_create"),
    path("broadcasts/<int:pk>/", views.broadcast_detail, name="broadcast_detail"),
    path("broadcasts/<int:pk>/resend/", views.broadcast_resend, name="broadcast_resend"),
    path("broadcasts/<int:pk>/cancel/", views.broadcast_cancel, name="broadcast_cancel"),
    path("broadcasts/<int:pk>/export/", views.broadcast_export, name="broadcast_export"),
    # Public: no account needed; only public broadcasts that were sent.
    path("notices/<int:community_pk>/", views.public_notices, name="public_notices"),
    path("notices/<int:community_pk>/<int:pk>/", views.public_notice, name="public_notice"),
]
