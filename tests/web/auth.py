"""Users and API tokens for the web tests: a first admin, and a token per name on demand.

`Grants(url)` opens the users and tokens of a cloud database (migrating it like the cloud does)
and makes the first admin (`ADMIN`, password `PASSWORD`), so changes are allowed at all;
`token(name, role)` makes (once) an API token acting as `name`; `bearer(...)` its header.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from cloud.auth import AuthStore, UserExists
from cloud.store import EventLog

ADMIN = "ada"
PASSWORD = "correct horse battery staple"
#: A user per role (the admin among them), all with PASSWORD.
USERS = {"vera": "viewer", "sam": "supervisor", "pia": "planner", ADMIN: "admin"}


class Grants:
    """The users of `USERS` and tokens by name in the database at `database`."""

    def __init__(self, database: str | Path) -> None:
        with EventLog(database) as log:  # migrated to the newest schema
            self.url = log.url
        self.store = AuthStore(self.url)
        for name, role in USERS.items():
            with contextlib.suppress(UserExists):  # a database opened again
                self.store.add_user(name, role, PASSWORD)
        self._tokens: dict[tuple[str, str], str] = {}

    def token(self, name: str, role: str = "planner") -> str:
        """An API token acting as `name` with `role` (made once)."""
        key = (name, role)
        if key not in self._tokens:
            self._tokens[key] = self.store.add_token(name, role, ADMIN).secret
        return self._tokens[key]

    def bearer(self, name: str, role: str = "planner") -> dict[str, str]:
        """The Authorization header of `token(name, role)`."""
        return {"Authorization": f"Bearer {self.token(name, role)}"}

    def close(self) -> None:
        """Closes the store's connections."""
        self.store.close()
