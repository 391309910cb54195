"""Login with Amazon as the emulator plays it: refresh token in, short-lived access token out.

Grantless operations (the Notifications API's destinations) take the app's token instead: the
client-credentials grant for a scope, from the client id and secret alone. As on Amazon, each
kind of token works only for its own operations: a seller's token is refused by a grantless
operation, and a grantless token by every other.
"""

from __future__ import annotations

import secrets
import threading
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
        # access token -> (when it stops working, its grantless scope or None for a seller's)
        self._expiry: dict[str, tuple[datetime, str | None]] = {}

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
        if form.get("refresh_token") != config.refresh_token:
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
            "access_token": self.issue(),
            "token_type": "bearer",
            "expires_in": config.token_lifetime,
            "refresh_token": config.refresh_token,
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

    def issue(self, scope: str | None = None) -> str:
        """A fresh access token, a seller's or (`scope`) the app's grantless one; tests may take
        one directly instead of calling the endpoint."""
        token = ("Atc|" if scope else "Atza|") + secrets.token_urlsafe(48)
        expiry = self._config.now() + timedelta(seconds=self._config.token_lifetime)
        with self._lock:
            self._expiry[token] = (expiry, scope)
        return token

    def check(self, token: str | None, scope: str | None = None) -> None:
        """Accept a live access token from `x-amz-access-token`, or raise Amazon's 403.

        `scope`: the operation is grantless and wants the app's token for that scope; None: it
        wants a seller's token."""
        with self._lock:
            expiry, granted = self._expiry.get(token or "", (None, None))
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

    def expire_all(self) -> None:
        with self._lock:
            now = self._config.now()
            self._expiry = {token: (now, scope) for token, (_, scope) in self._expiry.items()}
