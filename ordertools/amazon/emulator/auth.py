"""Login with Amazon as the emulator plays it: refresh token in, short-lived access token out.

Grantless operations (the Notifications API's destinations) take the app's token instead: the
client-credentials grant for a scope, from the client id and secret alone. As on Amazon, each
kind of token works only for its own operations: a seller's token is refused by a grantless
operation, and a grantless token by every other.

One application, many sellers: LWA accepts every refresh token in `grants` (the emulator's
sellers), and each access token remembers the refresh token it was exchanged for (`owner`), so
the emulator serves a token's SP-API calls from that seller's orders only.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection
from datetime import datetime, timedelta

from werkzeug.wrappers import Request

from ordertools.amazon.auth import NOTIFICATIONS_SCOPE
from ordertools.amazon.emulator.config import EmulatorConfig

# The scopes LWA grants a client-credentials token for.
GRANTLESS_SCOPES = frozenset({NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation"})


class AuthFailure(Exception):
    """An LWA or SP-API refusal: HTTP status and the JSON body Amazon sends for it."""

    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status = status
        self.body = body


def grant_parameters(request: Request) -> dict:
    """The token request's parameters: a form (LWA's documented example) or a JSON object
    (what Amazon's own SDKs send); `exchange` checks them the same way."""
    if not request.is_json:
        return request.form.to_dict()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AuthFailure(
            400,
            {
                "error": "invalid_request",
                "error_description": "The request body must be a JSON object.",
            },
        )
    return body


def _denied(details: str) -> AuthFailure:
    error = {"code": "Unauthorized", "message": "Access to requested resource is denied."}
    return AuthFailure(403, {"errors": [{**error, "details": details}]})


class Auth:
    def __init__(self, config: EmulatorConfig):
        self._config = config
        self._lock = threading.Lock()
        # access token -> (when it stops working, its grantless scope or None for a seller's,
        # the refresh token it was exchanged for or None for a grantless one)
        self._expiry: dict[str, tuple[datetime, str | None, str | None]] = {}
        self._grants: set[str] = {config.refresh_token}  # the refresh tokens LWA accepts

    @property
    def default_refresh_token(self) -> str:
        return self._config.refresh_token

    def accept(self, refresh_token: str) -> None:
        """LWA exchanges this refresh token from now on (a seller that authorized the app)."""
        with self._lock:
            self._grants.add(refresh_token)

    def refuse(self, refresh_token: str) -> None:
        """LWA refuses this refresh token from now on (invalid_grant), and the access tokens
        issued for it stop working: what a seller revoking the app's authorization does."""
        with self._lock:
            self._grants.discard(refresh_token)
        self.expire_all(owners={refresh_token})

    def exchange(self, form: dict) -> dict:
        """The token endpoint: a refresh_token grant for a seller's access token, a
        client_credentials grant for the app's grantless one, or AuthFailure."""
        config = self._config
        if (form.get("client_id"), form.get("client_secret")) != (
            config.client_id,
            config.client_secret,
        ):
            raise AuthFailure(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if form.get("grant_type") == "client_credentials":
            return self._grantless(form.get("scope"))
        if form.get("grant_type") != "refresh_token":
            raise AuthFailure(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The authorization grant type is not supported",
                },
            )
        refresh_token = form.get("refresh_token")
        with self._lock:
            granted = refresh_token in self._grants
        if not granted:
            raise AuthFailure(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": (
                        "The request has an invalid grant parameter : refresh_token"
                    ),
                },
            )
        return {
            "access_token": self.issue(owner=refresh_token),
            "token_type": "bearer",
            "expires_in": config.token_lifetime,
            "refresh_token": refresh_token,
        }

    def _grantless(self, scope: str | None) -> dict:
        if scope not in GRANTLESS_SCOPES:
            raise AuthFailure(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "The request has an invalid parameter : scope",
                },
            )
        return {
            "access_token": self.issue(scope=scope),
            "scope": scope,
            "token_type": "bearer",
            "expires_in": self._config.token_lifetime,
        }

    def issue(self, scope: str | None = None, owner: str | None = None) -> str:
        """A fresh access token, a seller's (`owner`: its refresh token; default the config's)
        or (`scope`) the app's grantless one; tests may take one directly instead of calling
        the endpoint."""
        token = ("Atc|" if scope else "Atza|") + secrets.token_urlsafe(48)
        expiry = self._config.now() + timedelta(seconds=self._config.token_lifetime)
        owner = None if scope else owner or self._config.refresh_token
        with self._lock:
            self._expiry[token] = (expiry, scope, owner)
        return token

    def owner(self, token: str | None) -> str | None:
        """The refresh token a seller's access token was issued for (expired or not); None
        for a grantless token or one never issued."""
        with self._lock:
            return self._expiry.get(token or "", (None, None, None))[2]

    def check(self, token: str | None, scope: str | None = None) -> None:
        """Accept a live access token from `x-amz-access-token`, or raise Amazon's 403.

        `scope`: the operation is grantless and wants the app's token for that scope; None: it
        wants a seller's token."""
        with self._lock:
            expiry, granted, _ = self._expiry.get(token or "", (None, None, None))
        if expiry is None:
            raise _denied("The access token you provided is revoked, malformed or invalid.")
        if self._config.now() >= expiry:
            raise _denied("The access token you provided has expired.")
        if granted != scope:
            raise _denied(
                f"This operation is grantless: call it with a token for scope {scope} "
                "(grant_type client_credentials), not a seller's."
                if scope
                else "This operation acts for a seller: call it with the seller's token "
                "(grant_type refresh_token), not a grantless one."
            )

    def expire_all(self, owners: Collection[str | None] | None = None) -> None:
        """Every token issued so far expires now; with `owners`, only those issued for them
        (refresh tokens; None stands for the grantless ones)."""
        with self._lock:
            now = self._config.now()
            for token, (_, scope, owner) in self._expiry.items():
                if owners is None or owner in owners:
                    self._expiry[token] = (now, scope, owner)
