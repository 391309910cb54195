"""Login with Amazon as the emulator plays it: refresh token in, short-lived access token out."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

from werkzeug.wrappers import Request

from ordertools.amazon.emulator.config import EmulatorConfig


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
        self._expiry: dict[str, datetime] = {}  # access token -> when it stops working

    def exchange(self, form: dict) -> dict:
        """The token endpoint: a refresh_token grant for a new access token, or AuthFailure."""
        config = self._config
        if (form.get("client_id"), form.get("client_secret")) != (
            config.client_id,
            config.client_secret,
        ):
            raise AuthFailure(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
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

    def issue(self) -> str:
        """A fresh access token (tests may take one directly instead of calling the endpoint)."""
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._expiry[token] = self._config.now() + timedelta(
                seconds=self._config.token_lifetime
            )
        return token

    def check(self, token: str | None) -> None:
        """Accept a live access token from `x-amz-access-token`, or raise Amazon's 403."""
        with self._lock:
            expiry = self._expiry.get(token or "")
        if expiry is None:
            raise _denied("The access token you provided is revoked, malformed or invalid.")
        if self._config.now() >= expiry:
            raise _denied("The access token you provided has expired.")

    def expire_all(self) -> None:
        with self._lock:
            now = self._config.now()
            self._expiry = dict.fromkeys(self._expiry, now)
