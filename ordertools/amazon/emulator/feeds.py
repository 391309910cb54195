"""The Feeds API (2021-06-30), as far as a seller needs it to cancel orders.

The flow Amazon documents: createFeedDocument hands out a document id and a pre-signed upload
URL; the seller PUTs the feed there; createFeed names the document and the feed type; getFeed
reports `processingStatus` and, once DONE, a `resultFeedDocumentId` whose getFeedDocument URL
serves the processing report. Here the upload URL is `/_documents/<id>` on the emulator itself
(standing in for S3, so no access token), and a feed is processed as soon as it is created:
`POST_ORDER_ACKNOWLEDGEMENT_DATA` messages cancel orders in the world or become errors in the
report (a shipped order, an unknown order item id).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import ParseError

from ordertools.amazon.emulator.search import InvalidInput
from ordertools.amazon.emulator.world import CancelRejected, World
from ordertools.amazon.feeds import (
    CONTENT_TYPE,
    ORDER_ACKNOWLEDGEMENT,
    ProcessingReport,
    processing_report,
    read_acknowledgements,
)
from ordertools.amazon.models import utc_iso

SUPPORTED_FEED_TYPES = (ORDER_ACKNOWLEDGEMENT,)


@dataclass
class _Document:
    content_type: str
    content: bytes | None = None


@dataclass
class _Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    created: datetime
    status: str = "IN_QUEUE"
    done: datetime | None = None
    result_document_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        feed = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": self.marketplace_ids,
            "createdTime": utc_iso(self.created),
            "processingStatus": self.status,
        }
        if self.done:
            feed["processingStartTime"] = utc_iso(self.created)
            feed["processingEndTime"] = utc_iso(self.done)
        if self.result_document_id:
            feed["resultFeedDocumentId"] = self.result_document_id
        return feed


class Feeds:
    def __init__(self, world: World):
        self.world = world
        self._lock = threading.Lock()
        self._ids = itertools.count(50001)
        self.documents: dict[str, _Document] = {}
        self.feeds: dict[str, _Feed] = {}

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def create_document(self, body: Any, base_url: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("contentType"), str):
            raise InvalidInput("contentType is required and must be a string.")
        with self._lock:
            doc_id = self._new_id("amzn1.tortuga.4.na.")
            self.documents[doc_id] = _Document(body["contentType"])
        return {"feedDocumentId": doc_id, "url": f"{base_url}/_documents/{doc_id}"}

    def upload(self, doc_id: str, content: bytes) -> bool:
        with self._lock:
            document = self.documents.get(doc_id)
            if document is None:
                return False
            document.content = content
            return True

    def download(self, doc_id: str) -> _Document | None:
        with self._lock:
            return self.documents.get(doc_id)

    def get_document(self, doc_id: str, base_url: str) -> dict[str, Any] | None:
        if self.download(doc_id) is None:
            return None
        return {"feedDocumentId": doc_id, "url": f"{base_url}/_documents/{doc_id}"}

    def create_feed(self, body: Any, now: datetime) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("The request body must be a JSON object.")
        feed_type, markets = body.get("feedType"), body.get("marketplaceIds")
        doc_id = body.get("inputFeedDocumentId")
        if not isinstance(feed_type, str) or not isinstance(doc_id, str):
            raise InvalidInput("feedType and inputFeedDocumentId are required strings.")
        if not isinstance(markets, list) or not 1 <= len(markets) <= 25:
            raise InvalidInput("marketplaceIds must list 1 to 25 marketplace ids.")
        if feed_type not in SUPPORTED_FEED_TYPES:
            raise InvalidInput(f"Invalid feedType {feed_type}.")
        document = self.download(doc_id)
        if document is None or document.content is None:
            raise InvalidInput(f"Feed document {doc_id} was not found or not uploaded.")
        with self._lock:
            feed = _Feed(self._new_id(""), feed_type, markets, now)
            self.feeds[feed.feed_id] = feed
        self._process(feed, document.content, now)
        return {"feedId": feed.feed_id}

    def get_feed(self, feed_id: str) -> dict[str, Any] | None:
        with self._lock:
            feed = self.feeds.get(feed_id)
            return feed.as_json() if feed else None

    def _process(self, feed: _Feed, content: bytes, now: datetime) -> None:
        try:
            messages = read_acknowledgements(content)
        except (ParseError, ValueError):
            feed.status, feed.done = "FATAL", now
            return
        report = ProcessingReport(processed=len(messages))
        for number, cancellation, problem in messages:
            if cancellation is not None:
                try:
                    self.world.cancel_order(
                        cancellation.amazon_order_id, cancellation.item_ids, cancellation.reason
                    )
                except CancelRejected as refused:
                    problem = str(refused)
            if problem:
                report.errors[number] = problem
            else:
                report.successful += 1
        with self._lock:
            result_id = self._new_id("amzn1.tortuga.4.na.result.")
            self.documents[result_id] = _Document(
                CONTENT_TYPE, processing_report(feed.feed_id, report)
            )
            feed.status, feed.done, feed.result_document_id = "DONE", now, result_id
