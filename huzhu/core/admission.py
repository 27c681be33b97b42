"""Admission control: a per-process bound on the requests of one kind in flight, so that a peak
is answered at once with 429 and ``Retry-After`` instead of piling up until it times out
(issue 6 "Intake under a peak"; ARCHITECTURE.md P7).

A ``Gate`` counts the requests inside it. ``admit()`` lets a request in when fewer than
``limit`` are inside; otherwise it waits at most ``wait`` seconds for a place, with at most
``queue`` requests waiting, and refuses with ``Overloaded`` (HTTP 429) when none frees up. Nothing
blocks for longer than ``wait``: the refusal is the fast path.

The gate works per server process. It refuses only when the server runs more threads than the
gate lets in — which is the point: the spare threads answer 429 in a fraction of a millisecond
while the admitted ones keep their database connections busy. (granian's WSGI default is
hundreds of threads per worker.)

Deployment settings (environment variables, docs/configuration.md; a Django setting of the same
name wins, which is how the tests set them):

- ``HUZHU_INTAKE_MAX_INFLIGHT``: requests inside the gate per process (default: twice the CPU
  count, at least 4; at most the connection pool's ``max_size`` when one is configured).
- ``HUZHU_INTAKE_QUEUE_MS``: how long a request may wait for a place (default 20 ms; 0: refuse
  at once).
- ``HUZHU_INTAKE_RETRY_AFTER``: the ``Retry-After`` seconds (default 1); each refusal says a
  whole number between it and twice it, so refused clients do not all come back together.

``api_gate(gate)`` guards a django-ninja operation (through ``ninja.decorators.decorate_view``,
before authentication and parsing: a refusal costs no query) and answers the API's error
envelope; ``page_gate(gate)`` guards a page view and answers a short localized page. Both
release the gate however the view ends.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from huzhu.core.errors import DomainError

DEFAULT_QUEUE_MS = 20
DEFAULT_RETRY_AFTER = 1


def _busy_response() -> dict[int, Any]:
    from huzhu.core.api import ErrorEnvelope

    return {429: ErrorEnvelope}


# The answer a gated API operation documents next to ``huzhu.core.api.ERRORS``.
BUSY: dict[int, Any] = _busy_response()


def _setting(name: str, default: int) -> int:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name) or default
    return int(value)


def default_limit() -> int:
    """Twice the CPU count (at least 4): the requests a database server of this size serves
    well at once; capped by the connection pool's ``max_size`` when one is configured."""
    limit = max(4, 2 * (os.cpu_count() or 1))
    options = settings.DATABASES.get("default", {}).get("OPTIONS", {})
    pool = options.get("pool") if isinstance(options, dict) else None
    if isinstance(pool, dict) and pool.get("max_size"):
        limit = min(limit, int(pool["max_size"]))
    return limit


class Overloaded(DomainError):
    """The gate is full: try again after ``retry_after`` seconds (HTTP 429)."""

    status = 429

    def __init__(self, gate: str, retry_after: int) -> None:
        super().__init__(
            "core.overloaded",
            _("当前提交人数过多，请 %(seconds)s 秒后重试。") % {"seconds": retry_after},
            details={"gate": gate, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class Gate:
    """A bounded number of requests in flight, per process. ``limit``, ``wait`` (seconds) and
    ``queue`` default to the settings above, read at every admission (so a changed setting
    applies at once)."""

    def __init__(
        self,
        name: str,
        *,
        limit: int | None = None,
        wait: float | None = None,
        queue: int | None = None,
    ) -> None:
        self.name = name
        self._limit = limit
        self._wait = wait
        self._queue = queue
        self._cond = threading.Condition(threading.Lock())
        self.inside = 0
        self.waiting = 0
        self.refused = 0
        # Test hook: called inside the gate, before the guarded view runs (None in production).
        self.on_enter: Callable[[], None] | None = None

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        return max(1, _setting("HUZHU_INTAKE_MAX_INFLIGHT", 0) or default_limit())

    @property
    def wait(self) -> float:
        if self._wait is not None:
            return self._wait
        return max(0, _setting("HUZHU_INTAKE_QUEUE_MS", DEFAULT_QUEUE_MS)) / 1000

    @property
    def queue(self) -> int:
        return self._queue if self._queue is not None else self.limit

    def retry_after(self) -> int:
        base = max(1, _setting("HUZHU_INTAKE_RETRY_AFTER", DEFAULT_RETRY_AFTER))
        return random.randint(base, 2 * base)  # noqa: S311 - jitter, not security

    def try_acquire(self) -> bool:
        """Take a place if one is free now or frees up within ``wait``; never blocks longer."""
        limit, wait = self.limit, self.wait
        with self._cond:
            if self.inside < limit:
                self.inside += 1
                return True
            if wait <= 0 or self.waiting >= self.queue:
                self.refused += 1
                return False
            self.waiting += 1
            try:
                got = self._cond.wait_for(lambda: self.inside < limit, timeout=wait)
            finally:
                self.waiting -= 1
            if got:
                self.inside += 1
                return True
            self.refused += 1
            return False

    def release(self) -> None:
        with self._cond:
            self.inside = max(0, self.inside - 1)
            self._cond.notify()

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Run the block inside the gate, or raise ``Overloaded`` at once."""
        if not self.try_acquire():
            raise Overloaded(self.name, self.retry_after())
        try:
            if self.on_enter is not None:
                self.on_enter()
            yield
        finally:
            self.release()


_gates: dict[str, Gate] = {}
_gates_lock = threading.Lock()


def gate(name: str) -> Gate:
    """The process's gate of that name (one per kind of request: API and pages share it)."""
    with _gates_lock:
        if name not in _gates:
            _gates[name] = Gate(name)
        return _gates[name]


def _with_retry_after(resp: HttpResponse, exc: Overloaded) -> HttpResponse:
    resp["Retry-After"] = str(exc.retry_after)
    resp["Cache-Control"] = "no-store"
    return resp


def overloaded_json(exc: Overloaded) -> HttpResponse:
    """The API's error envelope for a refusal, with ``Retry-After``."""
    body = {"error": {"code": exc.code, "message": str(exc.message), "details": exc.details}}
    return _with_retry_after(
        JsonResponse(body, status=429, json_dumps_params={"ensure_ascii": False}), exc
    )


_PAGE = (
    "{% extends 'base.html' %}"
    "{% block title %}{{ title }}{% endblock %}"
    "{% block content %}<section class='card' id='overloaded'>"
    "<h1>{{ title }}</h1><p>{{ message }}</p><p>{{ hint }}</p>"
    "{% if back %}<p><a class='button' href='{{ back }}'>{{ back_label }}</a></p>{% endif %}"
    "</section>{% endblock %}"
)


def overloaded_page(request: HttpRequest, exc: Overloaded, back: str = "") -> HttpResponse:
    """A short localized page for a refused form post (429, ``Retry-After``)."""
    from django.template import engines

    template = engines["django"].from_string(_PAGE)
    html = template.render(
        {
            "title": _("请稍后重试"),
            "message": exc.message,
            "hint": _("您的提交尚未处理，请返回后重新提交。"),
            "back": back,
            "back_label": _("返回"),
        },
        request,
    )
    return _with_retry_after(HttpResponse(html, status=429), exc)


def api_gate(g: Gate) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for ``ninja.decorators.decorate_view``: the operation runs inside ``g``;
    past capacity the API answers 429 with its error envelope and ``Retry-After``."""

    def decorator(run: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(run)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                with g.admit():
                    return run(request, *args, **kwargs)
            except Overloaded as exc:
                return overloaded_json(exc)

        return wrapper

    return decorator


def page_gate(
    g: Gate, back: Callable[..., str] | None = None
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page view runs inside ``g``; past capacity it answers a localized 429 page with a link
    ``back(request, **view_kwargs)`` to where the form was."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                with g.admit():
                    return view(request, *args, **kwargs)
            except Overloaded as exc:
                url = back(request, *args, **kwargs) if back is not None else ""
                return overloaded_page(request, exc, url)

        return wrapper

    return decorator
