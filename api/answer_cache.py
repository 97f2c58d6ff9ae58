"""Listing answers kept per catalog version: a repeated query is answered without searching again.

The body of a model search, a dataset listing or the license list depends only on the URL and the
catalog's contents, and every write to the catalog raises its version
(catalog.registry.bump_version). So a body kept under (epoch, version, path, query string) stays
right until the next write; after it the key is never asked again and the entry ages out. The first
answer for a query is always computed (the bitmap index makes a search's fast); this only spares
repeating the same work for the same question. The key is read before the answer is computed, so
an answer is never older than its key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from api.database import db
from catalog.search_index import current_version

Key = tuple[int, int, str, bytes]


@dataclass(frozen=True)
class Answer:
    body: str  # the JSON document
    total: int | None  # its "total" (how many match: for page links), if it has one


class AnswerCache:
    """A bounded least-recently-used map from (epoch, version, path, query string) to an answer."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Key, answer: Answer) -> None:
        if self.entries == 0:
            return
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.entries:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)


def versioned_answer(document: Callable[[], dict[str, Any]]) -> Answer:
    """This GET request's JSON answer at the catalog's current version: kept, or computed now.

    `document` computes the answer's document, already dumped by its schema."""
    cache: AnswerCache = current_app.extensions["modelcatalog.answers"]
    epoch, version = current_version(db())
    key = (epoch, version, request.path, request.query_string)
    answer = cache.get(key)
    if answer is None:
        dumped = document()
        answer = Answer(current_app.json.dumps(dumped), dumped.get("total"))
        cache.put(key, answer)
    return answer
