"""Notebook parameters are never secrets: names and values that look like one are refused."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from ordertools.errors import ConfigurationError

# Names and values that must never become notebook parameters (papermill writes them into the
# output notebook). Values: Login with Amazon refresh tokens, access tokens, client secrets.
SECRET_NAME = re.compile(r"secret|token|passw|credential|api_?key|private_?key", re.IGNORECASE)
SECRET_VALUE_MARKERS = ("Atzr|", "Atza|", "amzn1.oa2-cs.v1.")
CREDENTIAL_ENV = ("ORDERTOOLS_LWA_CLIENT_SECRET", "ORDERTOOLS_REFRESH_TOKEN")


class SecretParameter(ConfigurationError):
    """A parameter that looks like a secret; the message names it, never its value."""


def check_parameters(parameters: Mapping[str, object]) -> None:
    """Refuse parameters that look like secrets: by name, by LWA token shape, or equal to a
    credential in this environment."""
    credentials = {os.environ[v] for v in CREDENTIAL_ENV if os.environ.get(v)}
    for name, value in parameters.items():
        if SECRET_NAME.search(name):
            why = "its name says it is a secret"
        elif any(marker in text for text in _texts(value) for marker in SECRET_VALUE_MARKERS):
            why = "its value looks like a Login with Amazon token or secret"
        elif any(text in credentials for text in _texts(value)):
            why = "its value is one of the credentials in this environment"
        else:
            continue
        raise SecretParameter(
            f"parameter {name!r} refused: {why}. Notebooks never take secrets (papermill writes "
            "every parameter into the output notebook); credentials come only from the "
            f"environment ({', '.join(CREDENTIAL_ENV)})"
        )


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _texts(item)
