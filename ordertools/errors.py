"""Errors a person can act on, and the whole tree of them in one place.

Every error the toolkit raises on purpose derives from `OrdertoolsError`; its `str()` is one line
that says what failed and what to do. The CLI prints that line and exits with `exit_code`, so no
traceback reaches a user. Messages never contain secrets: callers build them from ids, codes and
Amazon's error text only. Each error lives beside the code that raises it:

    OrdertoolsError                     exit 1 unless noted
    ├── ConfigurationError              exit 2: setup or input is wrong (variable, store, URL)
    │   ├── runs.parameters.SecretParameter   a notebook parameter that looks like a secret
    │   └── domain.catalog.CatalogRejected    a catalog file with bad rows: nothing imported
    ├── NotInOrderBook                  the order book has no such order or saved view
    ├── amazon.errors.AmazonError       Amazon (or the emulator) answered, or failed to
    │   ├── CredentialsRefused          LWA refused the client or the refresh token
    │   ├── AccessDenied                403: a missing role, the wrong seller
    │   ├── InvalidInput                400: Amazon rejected the parameters
    │   ├── NotFound                    404: Amazon has no such order for this seller
    │   ├── Conflict                    409: conflicts with what Amazon holds (a destination)
    │   │   └── SubscriptionExists      the seller already has that subscription (reuse it)
    │   ├── Throttled                   429 after the bounded retries   (transient)
    │   ├── ServerFailure               5xx, timeouts, no connection    (transient)
    │   ├── ClientClosed                closed (Ctrl-C, SIGTERM) while a request waited
    │   └── ReportFailed                a report ended FATAL or CANCELLED
    │       └── ReportTimedOut          a report was not ready in time       (transient)
    ├── amazon.errors.MalformedOrder    one order in a page could not be read
    ├── amazon.errors.MalformedNotification   a queue message that is no ORDER_CHANGE message
    ├── db.locks.StoreBusy              exit 75: another sync holds the store  (transient)
    ├── sync.report.SyncFailed          `sync --all`: at least one store failed
    ├── sync.importing.ImportRefused    `import-order`: the import rules said no
    ├── sync.reconcile.ReconcileFailed  a reconciliation could not finish
    ├── notebook.reconcile_page.ReconciliationFailed   the nightly run left differences
    ├── fulfillment.actions.FulfillmentRefused   the order's state doesn't allow the action
    └── runs.execute.RunFailed          a notebook run failed (exit code of its cause)

Transient errors are worth trying again later (a scheduled run does); the others need a person.
"""

from __future__ import annotations


class OrdertoolsError(Exception):
    """Base of every deliberate error; `exit_code` is what the CLI returns for it."""

    exit_code = 1


class ConfigurationError(OrdertoolsError):
    """The user's setup is incomplete or wrong (missing variable, unknown store, bad URL)."""

    exit_code = 2


class NotInOrderBook(OrdertoolsError):
    """The local order book has no such order (never received from Amazon) or saved view.

    Not an Amazon error: nothing was asked of Amazon. Amazon's own 404 is
    `ordertools.amazon.errors.NotFound`.
    """
