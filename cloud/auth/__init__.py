"""Who may use the web interface: users and roles, API tokens, sessions, login throttling, audit.

The store (`AuthStore`, users and tokens in the cloud database), the sessions of logged-in
browsers (`Sessions`, in memory; `cloud.auth.shared` keeps them and the throttle in the database
for the scale-out roles), the login throttle (`LoginThrottle`) and the audit trail of
state-changing requests (`AuditTrail`, events in the cloud's log). The web layer's middleware
(`cloud/web/guard.py`) puts them in front of every route; `taktline cloud users|tokens` manages
them from the command line (`cloud/auth/cli.py`).
"""

from cloud.auth.audit import AUDIT_SOURCE, AuditTrail
from cloud.auth.roles import ROLES, Role, allows
from cloud.auth.sessions import LoginThrottle, Session, Sessions
from cloud.auth.store import (
    AuthError,
    AuthStore,
    Identity,
    NoSuchUser,
    PasswordRefused,
    TokenCreated,
    UserExists,
)

__all__ = [
    "AUDIT_SOURCE",
    "ROLES",
    "AuditTrail",
    "AuthError",
    "AuthStore",
    "Identity",
    "LoginThrottle",
    "NoSuchUser",
    "PasswordRefused",
    "Role",
    "Session",
    "Sessions",
    "TokenCreated",
    "UserExists",
    "allows",
]
