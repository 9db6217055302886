"""The reading room as an ASGI application (Starlette): routes, templates, errors.

Handlers are plain functions (Starlette runs them in its thread pool, since
storage is synchronous); each asks ``views`` for its context and renders one
template. The settings are read through a callable on every request, so
inside ``newswatch run`` an edited config (alert rules, feeds, time zone)
shows on the next page without a restart.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import storage
from pipeline.config import Settings
from pipeline.errors import StorageError
from pipeline.web import views
from pipeline.web.access import Guard

log = logging.getLogger("newswatch.web")
STATIC = Path(__file__).with_name("static")
_STATIC_TYPES = {"style.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"}

templates = Environment(loader=PackageLoader("pipeline.web", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True),
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def create_app(settings: Callable[[], Settings], store: storage.Store, *,
               token: str | None = None,
               clock: Callable[[], datetime] | None = None) -> Starlette:
    """The application; ``settings`` gives the settings in force at each request."""
    routes = [
        Route("/", home), Route("/digest/{day}", digest_day),
        Route("/story/{id:int}", story), Route("/item/{id:int}", item),
        Route("/search", search), Route("/feeds", feeds), Route("/feeds/{name}", atom),
        Route("/health", health), Route("/static/{name}", static),
        Route("/favicon.ico", favicon),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, token=token)],
                    exception_handlers={HTTPException: _http_error,
                                        StorageError: _storage_error, Exception: _server_error})
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock or (lambda: datetime.now(timezone.utc))
    return app


def _ctx(request: Request) -> tuple[Settings, storage.Store, datetime]:
    state = request.app.state
    return state.settings(), state.store, state.clock()


def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    body = templates.get_template(name).render(**context,
                                               nav=_nav(request.app.state.settings()))
    return HTMLResponse(body, status_code=status)


def home(request: Request) -> Response:
    settings, store, now = _ctx(request)
    day = views.home_day(settings, store, now)
    return page(request, "briefing.html.j2",
                {**views.briefing_page(settings, store, day, now), "home": True})


def digest_day(request: Request) -> Response:
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        raise HTTPException(404, "No such day: write it as YYYY-MM-DD.") from None
    settings, store, now = _ctx(request)
    return page(request, "briefing.html.j2",
                {**views.briefing_page(settings, store, day, now), "home": False})


def story(request: Request) -> Response:
    settings, store, _ = _ctx(request)
    context = views.story_page(settings, store, request.path_params["id"])
    if context is None:
        raise HTTPException(404, "No such story.")
    return page(request, "story.html.j2", context)


def item(request: Request) -> Response:
    settings, store, _ = _ctx(request)
    context = views.item_page(settings, store, request.path_params["id"],
                              request.query_params.get("q", "")[:1000])
    if context is None:
        raise HTTPException(404, "No such item.")
    return page(request, "item.html.j2", context)


def search(request: Request) -> Response:
    settings, store, _ = _ctx(request)
    form = views.SearchForm.read(request.query_params)
    return page(request, "search.html.j2", views.search_page(settings, store, form))


def feeds(request: Request) -> Response:
    settings, store, now = _ctx(request)
    return page(request, "feeds.html.j2", views.feeds_page(settings, store, now))


def atom(request: Request) -> Response:
    settings, _, _ = _ctx(request)
    path = views.atom_path(settings, request.path_params["name"])
    if path is None:
        raise HTTPException(404, "No such feed file.")
    return FileResponse(path, media_type="application/atom+xml; charset=utf-8")


def health(request: Request) -> Response:
    ok, body = views.health(*_ctx(request))
    return JSONResponse(body, status_code=200 if ok else 503)


def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC_TYPES:
        raise HTTPException(404, "No such file.")
    return FileResponse(STATIC / name, media_type=_STATIC_TYPES[name],
                        headers={"cache-control": "max-age=3600"})


def favicon(request: Request) -> Response:
    return FileResponse(STATIC / "icon.svg", media_type="image/svg+xml",
                        headers={"cache-control": "max-age=86400"})


def _nav(settings: Settings) -> dict:
    return {"feeds": len(settings.feeds)}


def _error_page(status: int, message: str) -> HTMLResponse:
    body = templates.get_template("error.html.j2").render(status=status, message=message,
                                                          nav={"feeds": 0})
    return HTMLResponse(body, status_code=status)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    message = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" \
        else "Nothing here."
    return _error_page(exc.status_code, message)


async def _storage_error(request: Request, exc: StorageError) -> Response:
    log.error("web: %s (%s)", exc, request.url.path)
    return _error_page(503, "The database cannot be read just now; try again shortly.")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("web: %s failed", request.url.path, exc_info=exc)
    return _error_page(500, "Something went wrong showing this page; it has been logged.")
