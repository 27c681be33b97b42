"""Time bank pages: members. Each module carries its own urlpatterns (see ../urls.py)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
