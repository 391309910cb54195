"""Fixtures for real SQS over HTTP: moto's server on a free port, and a fresh queue per test.

`sqs_server` is moto's `ThreadedMotoServer` for the whole session (a real HTTP server, never
`mock_aws`: the code under test talks to it as it would to AWS). `sqs_env` points the standard
AWS environment at it for one test (dummy keys, AWS_REGION us-east-1, AWS_ENDPOINT_URL_SQS),
so `ordertools.amazon.notifications.sqs_client()` and the emulator's delivery find it. `queue`
is a new queue whose policy lets Amazon's principal send, as a user's must (README): a
`Queue(url, arn)`, deleted after the test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import NamedTuple

import pytest

from ordertools.amazon.notifications import queue_policy, sqs_client

REGION = "us-east-1"


class Queue(NamedTuple):
    url: str
    arn: str


@pytest.fixture(scope="session")
def sqs_server():
    from moto.server import ThreadedMotoServer  # moto is heavy: only sessions that use it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sqs_env(sqs_server, monkeypatch) -> str:
    """The AWS environment for moto's server; returns its endpoint."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_server)
    return sqs_server


@pytest.fixture
def queue(sqs_env) -> Queue:
    sqs = sqs_client()
    url = sqs.create_queue(QueueName=f"ordertools-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(arn)})
    yield Queue(url, arn)
    sqs.delete_queue(QueueUrl=url)


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
