"""The pages: one small application (`static/app.html` with its scripts and styles).

Every page path answers the same HTML, which renders the view its path names; the scripts and
styles are static files served by the framework (no external assets: the plant may be offline).
Each page carries the plant model's time zone (`<meta name="taktline-timezone">`, read by
`static/time.js`), so every time is shown on the plant's clock. `/` is the andon board,
`/overview` the machines' tiles. `/login` is a page of its own (`static/login.html`); the guard
sends anonymous callers there unless the server opens its pages to anonymous viewers
(`--public-read`).
"""

from __future__ import annotations

import html as markup
from collections.abc import Callable
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
    "/overview",
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


_ZONE_META: Final = b'<meta name="taktline-timezone" content="UTC">'


def routes(zone: Callable[[], str] = lambda: "UTC") -> list[BaseRoute]:
    """A route per page, and `/static/` for the scripts and styles.

    Args:
        zone: The plant's time zone (an IANA name) now: the master data's, which may change.
    """
    template = resources.files("cloud.web").joinpath("static", "app.html").read_bytes()
    assert _ZONE_META in template, "app.html lost its time-zone meta tag"
    login_html = resources.files("cloud.web").joinpath("static", "login.html").read_bytes()

    async def page(request: Request) -> Response:
        station = request.path_params.get("station")
        if station is not None and not STATION.match(station):
            raise Problem(404, f"no machine {station!r}")
        meta = f'<meta name="taktline-timezone" content="{markup.escape(zone())}">'.encode()
        html = template.replace(_ZONE_META, meta, 1)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
        return HTMLResponse(login_html, headers={"Cache-Control": "no-store"})

    pages: list[BaseRoute] = [Route(path, page, methods=["GET"]) for path in PAGES]
    pages.append(Route("/login", login, methods=["GET"]))
    static = StaticFiles(packages=[("cloud.web", "static")])
    return [*pages, Mount("/static", app=static, name="static")]
