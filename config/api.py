"""The API: django-ninja under /api/v1, OpenAPI at /api/docs. Each app contributes a router."""

from ninja import NinjaAPI
from ninja.security import SessionAuth

from huzhu.core.api import ERRORS, BearerToken, install_error_handlers

api = NinjaAPI(
    title="huzhu API",
    version="1",
    description="互助 huzhu — community mutual aid. Authenticate with a bearer token from "
    "POST /api/v1/auth/token or with the web session (CSRF token required for writes).",
    auth=[BearerToken(), SessionAuth()],
    docs_url="docs",
    openapi_url="v1/openapi.json",
    urls_namespace="api",
)
install_error_handlers(api)


def _mount() -> None:
    from huzhu.accounts.api import router as accounts_router
    from huzhu.accounts.roster_api import router as roster_router
    from huzhu.audit.api import router as audit_router
    from huzhu.documents.api import router as documents_router
    from huzhu.helpdesk.api import router as helpdesk_router
    from huzhu.lockdown.api import router as lockdown_router
    from huzhu.needs.api import router as needs_router
    from huzhu.notify.api import router as notify_router
    from huzhu.orgs.api import router as orgs_router
    from huzhu.timebank.api import router as timebank_router

    api.add_router("v1/", accounts_router)
    api.add_router("v1/", roster_router)
    api.add_router("v1/", audit_router)
    api.add_router("v1/", orgs_router)
    api.add_router("v1/", notify_router)
    api.add_router("v1/", timebank_router)
    api.add_router("v1/", needs_router)
    api.add_router("v1/", lockdown_router)
    api.add_router("v1/", helpdesk_router)
    api.add_router("v1/", documents_router)


_mount()
__all__ = ["ERRORS", "api"]
