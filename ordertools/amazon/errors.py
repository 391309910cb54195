"""Amazon's error tree: what Amazon (or the emulator) answered, or failed to answer.

See `ordertools.errors` for the whole tree, these included.
"""

from __future__ import annotations

from ordertools.errors import OrdertoolsError


class AmazonError(OrdertoolsError):
    """Something Amazon (or the emulator) answered or failed to answer.

    `operation` is the SP-API operation, `status` the HTTP status (None when no answer came),
    `code` Amazon's error code when it sent one. `after_uncertain_attempt` is True when the
    client retried the request after an attempt whose answer never came (a server failure, a
    cut connection): that attempt may have taken effect, so a refusal of the retry (a
    duplicate, say) says nothing about whether the change is there: read Amazon's state.
    """

    after_uncertain_attempt = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.operation = operation
        self.status = status
        self.code = code


class CredentialsRefused(AmazonError):
    """LWA refused the client id/secret (invalid_client) or the refresh token (invalid_grant)."""


class AccessDenied(AmazonError):
    """Amazon answered 403 for a reason other than an expired token (missing role, wrong seller)."""


class Throttled(AmazonError):
    """Still throttled (429 QuotaExceeded) after the bounded retries."""

    # Given up at once: the next call the usage plan allows is too far off for this caller
    # (a store in a round of `sync --all`; the client's `throttled_wait_limit`).
    waits_for_next_round = False


class InvalidInput(AmazonError):
    """Amazon rejected the request's parameters (400); the message carries Amazon's reason."""


class NotFound(AmazonError):
    """The order (or resource) does not exist for this seller (404)."""


class Conflict(AmazonError):
    """Amazon refused a change that conflicts with what it holds (409, or a destination that
    still has subscriptions): a destination for that queue exists, say."""


class SubscriptionExists(Conflict):
    """createSubscription answered 409: the seller already has a subscription to that
    notification type. `subscription_id` is the existing one when Amazon named it (reuse it),
    else None (read it with `AmazonClient.subscription(notification_type)`)."""

    def __init__(
        self,
        message: str,
        *,
        subscription_id: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, operation=operation, status=status, code=code)
        self.subscription_id = subscription_id


class ServerFailure(AmazonError):
    """Amazon kept failing (500/503), or the connection failed or timed out, after retries."""


class ClientClosed(AmazonError):
    """The client was closed (Ctrl-C, SIGTERM, the end of a sync) while a request waited for
    Amazon's rate limit or a retry: the request was never sent."""


class ReportFailed(AmazonError):
    """A report Amazon could not make: it ended FATAL or CANCELLED, or never arrived as an
    order report. `report_id` and `processing_status` say which and how (None when the report
    was never created or the document was unreadable).

    CANCELLED is also how Amazon ends a report that has no data to return (the model says
    so): for an order report that can mean the window had no orders."""

    def __init__(
        self,
        message: str,
        *,
        report_id: str | None = None,
        processing_status: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, operation=operation, status=status, code=code)
        self.report_id = report_id
        self.processing_status = processing_status


class ReportTimedOut(ReportFailed):
    """A report was still IN_QUEUE or IN_PROGRESS when the wait for it ran out (transient:
    Amazon is slow; wait for the same report id again, or ask later)."""


class MalformedOrder(OrdertoolsError):
    """One order in a page could not be read; the rest of the page is fine.

    Carries the order id (when one could be found) and the reason, so a sync can keep the raw
    order with an error note and go on.
    """

    def __init__(self, order_id: str | None, reason: str, raw: object = None):
        super().__init__(f"order {order_id or '(no id)'} is malformed: {reason}")
        self.order_id = order_id
        self.reason = reason
        self.raw = raw


class MalformedNotification(OrdertoolsError):
    """A notification message that is not what Amazon's schema says it is (not JSON, a required
    field missing, a wrong type, another notification type). `reason` is one line;
    `notification_id` is the message's NotificationId when one could be read."""

    def __init__(self, reason: str, notification_id: str | None = None):
        what = f"notification {notification_id}" if notification_id else "a notification"
        super().__init__(f"{what} is malformed: {reason}")
        self.reason = reason
        self.notification_id = notification_id
