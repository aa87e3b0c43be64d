"""The pages: one small application (`static/app.html` with its scripts and styles).

Every page path answers the same HTML, which renders the view its path names; the scripts and
styles are static files served by the framework (no external assets: the plant may be offline).
`/login` is a page of its own (`static/login.html`); the guard sends anonymous callers there
unless the server opens its pages to anonymous viewers (`--public-read`).
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cloud.web.problems import Problem
from cloud.web.status import STATION

__all__ = ["PAGES", "routes"]

#: The pages (each served by the one application, which renders the view its path names).
PAGES: Final = (
    "/",
    "/machines/{station}",
    "/tooling",
    "/labour",
    "/deliveries",
    "/kanban",
    "/corrections",
    "/plan",
    "/gaps",
    "/whatif",
    "/report",
    "/audit",
)


def routes() -> list[BaseRoute]:
    """A route per page, and `/static/` for the scripts and styles."""
    html = resources.files("cloud.web").joinpath("static", "app.html").read_bytes()
    login_html = resources.files("cloud.web").joinpath("static", "login.html").read_bytes()

    async def page(request: Request) -> Response:
        station = request.path_params.get("station")
        if station is not None and not STATION.match(station):
            raise Problem(404, f"no machine {station!r}")
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
        return HTMLResponse(login_html, headers={"Cache-Control": "no-store"})

    pages: list[BaseRoute] = [Route(path, page, methods=["GET"]) for path in PAGES]
    pages.append(Route("/login", login, methods=["GET"]))
    static = StaticFiles(packages=[("cloud.web", "static")])
    return [*pages, Mount("/static", app=static, name="static")]
