"""The needs pages, one module per area (resident, volunteer, manage, tracking), each with
its own urlpatterns (see ../urls.py); what they share is in ``_common``."""
