"""Settings of the HTTP part of P4: the project's settings with the bench URLconf, which adds
the idiomatic ORM endpoint (the baseline) next to the real API. Used only by the benchmark's
server process (``DJANGO_SETTINGS_MODULE=bench.settings``)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
