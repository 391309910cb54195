"""Login with Amazon: the app's credentials and the short-lived access tokens they buy.

SP-API calls carry an access token in `x-amz-access-token`; Login with Amazon (LWA) trades the
store's refresh token for one that lives an hour (`expires_in`). `AccessTokens` caches it and
renews it a little before it runs out, so a request never leaves with a token about to expire.

Grantless operations (the Notifications API's destinations) act for the app, not for a seller:
their token comes from the client-credentials grant with a scope
(`sellingpartnerapi::notifications`), from the client id and secret alone. `AccessTokens(...,
scope=...)` is that token, cached the same way, one per scope.

Secrets (client secret, refresh token, access token) are `Secret`s: their repr and str are
stars, and nothing here puts them in a message or a log line. Amazon's own error text is
scrubbed of them too before it reaches an exception, in case a server ever echoes one back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from ordertools.amazon.errors import AmazonError, CredentialsRefused, ServerFailure, Throttled
from ordertools.errors import ConfigurationError

CLIENT_ID_ENV = "ORDERTOOLS_LWA_CLIENT_ID"
CLIENT_SECRET_ENV = "ORDERTOOLS_LWA_CLIENT_SECRET"
REFRESH_TOKEN_ENV = "ORDERTOOLS_REFRESH_TOKEN"

# The scope of the grantless token the Notifications API's destinations (and deleting or reading
# a subscription by id) want.
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"

# Renew this long before Amazon's expiry (capped at a tenth of the lifetime for short-lived
# tokens), so clock skew and a slow request can't carry a dying token to Amazon.
EXPIRY_MARGIN = 60.0


class Secret:
    """A secret string that shows as stars: in repr, str, f-strings, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = str(value)

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# The local emulator's published demo credentials: not secrets, anyone may read them here. The
# emulator accepts them by default, and a store on this machine uses them when the environment
# names none (`ordertools.amazon.connect`), so the demo needs no setup.
DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_REFRESH_TOKEN = "Atzr|demo-refresh-token"


@dataclass(frozen=True)
class Credentials:
    """An app's LWA client id and secret plus one store's refresh token.

    `refresh_token_env` is only the *name* of the variable the token came from, kept so that an
    error can tell the user which variable to fix. The secrets may be given as plain strings;
    they are kept as `Secret`s.
    """

    client_id: str
    client_secret: Secret
    refresh_token: Secret
    refresh_token_env: str = REFRESH_TOKEN_ENV

    def __post_init__(self) -> None:
        for name in ("client_secret", "refresh_token"):
            value = getattr(self, name)
            if not isinstance(value, Secret):
                object.__setattr__(self, name, Secret(value))

    @classmethod
    def from_env(
        cls,
        refresh_token_env: str = REFRESH_TOKEN_ENV,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Read the credentials from the environment; a missing variable is named, never shown."""
        env = os.environ if environ is None else environ
        names = (CLIENT_ID_ENV, CLIENT_SECRET_ENV, refresh_token_env)
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise ConfigurationError(
                f"missing environment variable {', '.join(missing)}: set it to the value from "
                "Seller Central (Apps and Services > Develop Apps)"
            )
        return cls(
            client_id=env[CLIENT_ID_ENV],
            client_secret=env[CLIENT_SECRET_ENV],
            refresh_token=env[refresh_token_env],
            refresh_token_env=refresh_token_env,
        )

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret.get_secret_value(), self.refresh_token.get_secret_value())


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by stars."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# Sends one HTTP request (timeout and transport errors are the caller's business).
Send = Callable[..., requests.Response]


class AccessTokens:
    """The current LWA access token for one store, exchanged on demand and cached.

    With `scope`, the app's grantless token for that scope instead (client-credentials grant:
    the refresh token is not sent)."""

    def __init__(
        self,
        credentials: Credentials,
        token_url: str,
        send: Send,
        *,
        store: str = "",
        clock: Callable[[], float] = time.monotonic,
        scope: str | None = None,
    ):
        self._credentials = credentials
        self._token_url = token_url
        self._send = send
        self._store = store
        self._clock = clock
        self.scope = scope
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._renew_at = 0.0
        self.exchanges = 0  # how many times we asked LWA; tests and stats read it

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return f"AccessTokens(token_url={self._token_url!r}{scope}, exchanges={self.exchanges})"

    def current(self) -> str:
        """A valid access token: the cached one, or a fresh one when it is (nearly) expired."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._exchange()
            assert self._token is not None
            return self._token.get_secret_value()

    def invalidate(self) -> None:
        """Forget the cached token (Amazon said it expired); the next `current()` renews it."""
        with self._lock:
            self._token = None

    def secrets(self) -> tuple[str, ...]:
        token = self._token.get_secret_value() if self._token else ""
        return (*self._credentials.secrets(), token)

    def _exchange(self) -> None:
        creds = self._credentials
        self.exchanges += 1
        if self.scope is None:
            grant = {
                "grant_type": "refresh_token",
                "refresh_token": creds.refresh_token.get_secret_value(),
            }
        else:
            grant = {"grant_type": "client_credentials", "scope": self.scope}
        response = self._send(
            "lwa",
            "POST",
            self._token_url,
            data={
                **grant,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret.get_secret_value(),
            },
        )
        body = _json_or_empty(response)
        if response.status_code == 200 and body.get("access_token"):
            lifetime = float(body.get("expires_in") or 3600)
            self._token = Secret(str(body["access_token"]))
            self._renew_at = self._clock() + lifetime - min(EXPIRY_MARGIN, lifetime / 10)
            return
        raise self._refusal(response.status_code, body)

    def _refusal(self, status: int, body: dict) -> AmazonError:
        code = str(body.get("error") or "")
        described = scrub(str(body.get("error_description") or ""), self.secrets())
        store = f" for store {self._store}" if self._store else ""
        if self.scope:
            store = f" for the grantless scope {self.scope}{store}"
        if status == 429:
            return Throttled(
                f"Login with Amazon throttled the token request{store}",
                operation="lwa",
                status=status,
                code=code or None,
            )
        if status >= 500:
            return ServerFailure(
                f"Login with Amazon failed{store} (HTTP {status}): try again later",
                operation="lwa",
                status=status,
                code=code or None,
            )
        if not code:
            return CredentialsRefused(
                f"Login with Amazon answered HTTP {status}{store}: check the token URL "
                f"{self._token_url}",
                operation="lwa",
                status=status,
            )
        if code == "invalid_scope":
            message = (
                f"Login with Amazon refused the token request{store} (invalid_scope): give the "
                "app the role that scope needs (Seller Central, Develop Apps)"
            )
        elif code == "invalid_grant" and self.scope is None:
            message = (
                f"Amazon refused the refresh token{store} (invalid_grant): re-authorize the app "
                f"and set {self._credentials.refresh_token_env}"
            )
        elif code in ("invalid_client", "unauthorized_client"):
            message = (
                f"Amazon refused the app's client id or secret{store} ({code}): check "
                f"{CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} against Seller Central"
            )
        else:
            message = f"Login with Amazon refused the token request{store} ({code}): {described}"
        return CredentialsRefused(message, operation="lwa", status=status, code=code)


def _json_or_empty(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
