"""The web monitoring interface (pages, REST API, live pushes); see `cloud.web.server`."""

from cloud.web.server import PAGES, ROUTES, WebServer

__all__ = ["PAGES", "ROUTES", "WebServer"]
