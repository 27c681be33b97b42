"""Running one piece of work from several threads at once, each with its own database
connection, and the URL a child process uses to reach the test database (the PostgreSQL
concurrency and crash tests of the time bank)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.db import connection, connections


def in_threads(
    n: int, work: Callable[[int], Any], timeout: float = 120
) -> tuple[list[Any], list[BaseException]]:
    """Start ``work(0)`` … ``work(n - 1)`` together (behind a barrier); return the results and
    the exceptions raised, for the test to judge."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            value = work(i)
            with lock:
                results.append(value)
        except BaseException as exc:  # reported by the test
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results, errors


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_<name>``), for a child
    process started by the test."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
