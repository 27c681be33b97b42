"""Shared API pieces: authentication, the one error envelope, pagination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from huzhu.core.errors import DomainError

if TYPE_CHECKING:
    from huzhu.accounts.models import Person


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from huzhu.accounts.auth import person_for_token

        person = person_for_token(token)
        if person is not None:
            request.user = person
        return person


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(Schema):
    error: ErrorBody


# Every operation documents these answers; the envelope is the same for all of them.
ERRORS: dict[int, type[Schema]] = {
    400: ErrorEnvelope,
    401: ErrorEnvelope,
    403: ErrorEnvelope,
    404: ErrorEnvelope,
    409: ErrorEnvelope,
    422: ErrorEnvelope,
}


class PageMeta(Schema):
    page: int
    page_size: int
    total: int


def envelope(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> HttpResponse:
    return api.create_response(
        request,
        {"error": {"code": code, "message": message, "details": details or {}}},
        status=status,
    )


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return envelope(api, request, exc.status, exc.code, str(exc.message), exc.details)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return envelope(api, request, 404, "not_found", _("未找到该对象。"))

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return envelope(
            api,
            request,
            403,
            "forbidden",
            _("您没有执行此操作的权限。"),
            {"permission": str(exc)} if str(exc) else {},
        )

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return envelope(api, request, 401, "unauthenticated", _("请先登录或提供有效的令牌。"))

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", [])],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors
        ]
        return envelope(
            api, request, 422, "invalid", _("提交的数据格式不正确。"), {"errors": errors}
        )

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return envelope(api, request, exc.status_code, "http_error", str(exc))


class PageIn(Schema):
    """The paging query parameters of every list operation."""

    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(settings.HUZHU_PAGE_SIZE, ge=1, le=200)


def paginate(queryset: QuerySet[Any], paging: PageIn) -> tuple[list[Any], PageMeta]:
    """One page of ``queryset`` and its meta (a page past the end is empty, not an error)."""
    start, end = page_bounds(paging.page, paging.page_size)
    total = queryset.count()
    rows = list(queryset[start:end]) if start < total else []
    return rows, PageMeta(page=paging.page, page_size=paging.page_size, total=total)


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    if page < 1:
        raise DomainError("api.page.invalid", _("页码必须从 1 开始。"), details={"field": "page"})
    if not 1 <= page_size <= 200:
        raise DomainError(
            "api.page_size.invalid",
            _("每页条数须在 1 到 200 之间。"),
            details={"field": "page_size"},
        )
    start = (page - 1) * page_size
    return start, start + page_size


def actor_of(request: HttpRequest) -> Person:
    """The signed-in person of an API request (the routers' auth has run); 403 otherwise."""
    from huzhu.accounts.models import Person

    user = request.user
    if not isinstance(user, Person) or not user.is_authenticated:
        raise PermissionDenied
    return user


def idempotency_key(request: HttpRequest, field: str | None) -> str:
    """A write's idempotency key: the ``Idempotency-Key`` header, else the body field of that
    name (for clients that cannot set headers); a clear error when there is neither."""
    key = (request.headers.get("Idempotency-Key") or field or "").strip()
    if not key:
        raise DomainError(
            "api.idempotency_key.required",
            _("缺少幂等键：请在请求头 Idempotency-Key 中提供。"),
            details={"header": "Idempotency-Key"},
        )
    return key
