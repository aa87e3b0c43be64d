"""The web monitoring interface (pages, REST API, live pushes) on Starlette and uvicorn.

`create_app` builds the ASGI application from the cloud's parts (`WebParts`); `WebServer` runs
it on uvicorn in a thread. See `cloud/web/app.py` for the layout.
"""

from cloud.web.app import create_app, served_routes
from cloud.web.pages import PAGES
from cloud.web.parts import WebParts
from cloud.web.server import WebServer

__all__ = ["PAGES", "WebParts", "WebServer", "create_app", "served_routes"]
