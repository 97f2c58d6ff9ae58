"""The Hub crawler: list models and datasets with their card data through huggingface_hub.

One listing pass per kind, sorted by last modification (newest first), with card data in it
(`full`, `cardData`); cards are fetched one by one only where the listing lacks them. Every page is
committed with the cursor of the next one, so a killed run resumes where it stopped. A run that
completes records how far it got; the next run stops paging when it reaches older items
(incremental). Base models and datasets that cards reference but the catalog lacks are fetched
afterwards, to a bounded depth; what the Hub does not have is recorded as missing.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.db import as_utc
from catalog.licenses import knowledge_base
from catalog.records import DatasetRecord, ModelRecord
from catalog.registry import (
    mark_missing,
    not_held,
    referenced_but_absent,
    upsert_datasets,
    upsert_models,
    utcnow,
)
from catalog.search_index import save_index
from catalog.tables import CrawlState
from catalog.verdicts import mark_stale, models_trained_on, refresh_stale
from ingest.cards import dataset_record, model_record, parse_datetime
from ingest.connection import HubSettings, transport_errors
from ingest.errors import BadRecord, HubUnreachable

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 60.0


@dataclass
class CrawlOptions:
    author: str | None = None
    search: str | None = None
    filters: tuple[str, ...] = ()
    limit: int | None = None
    datasets: bool = True
    resync: bool = False
    since: datetime | None = None
    page_size: int = 1000
    lineage_depth: int = 3
    hub: HubSettings = field(default_factory=HubSettings)
    timeout: float = 30.0


@dataclass
class CrawlSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: int = 0  # records with card errors, or that could not be read
    pages: int = 0
    seen: int = 0
    verdicts: int = 0
    error_messages: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.missing} missing, {self.errors} errors ({self.pages} pages, {self.verdicts} verdicts refreshed)"
        )


Progress = Callable[[str, int, CrawlSummary], None]


class HubClient:
    """huggingface_hub's HTTP session and API with retries: 429 waits, 5xx and timeouts back off."""

    def __init__(self, hub: HubSettings, timeout: float) -> None:
        from huggingface_hub import HfApi, constants

        self.endpoint = (hub.endpoint or constants.ENDPOINT).rstrip("/")
        self.token = token = hub.token
        self.retries = hub.retries
        self.timeout = timeout
        self.api = HfApi(endpoint=self.endpoint, token=token)
        self.transport_errors = transport_errors()
        # Cards are read once per crawl; a private cache keeps one endpoint's files from answering
        # for another's (the shared Hub cache is keyed by repo id alone).
        self._cache = tempfile.TemporaryDirectory(prefix="modelcatalog-cards-")

    def close(self) -> None:
        self._cache.cleanup()

    def _retrying(self, what: str, call: Callable[[], Any]) -> Any:
        from huggingface_hub.errors import HfHubHTTPError

        delay = 0.5
        for attempt in range(1, self.retries + 1):
            try:
                return call()
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status == 429:
                    wait = _retry_after(exc.response, delay)
                    log.warning("%s: rate limited, waiting %.1f s", what, wait)
                    time.sleep(wait)
                elif status is not None and status >= 500 and attempt < self.retries:
                    log.warning(
                        "%s: server error %s, retry %d in %.1f s", what, status, attempt, delay
                    )
                    time.sleep(delay)
                else:
                    raise
            except self.transport_errors as exc:
                if attempt == self.retries:
                    raise HubUnreachable(
                        f"the Hub at {self.endpoint} cannot be reached ({type(exc).__name__}: {exc})"
                    ) from exc
                log.warning("%s: %s, retry %d in %.1f s", what, type(exc).__name__, attempt, delay)
                time.sleep(delay)
            delay = min(delay * 2, 10.0)
        raise HubUnreachable(
            f"{what}: the Hub at {self.endpoint} kept failing after {self.retries} tries"
        )

    def get_page(self, url: str) -> tuple[list[dict[str, Any]], str | None]:
        """GET one listing page; return its items and the next page's URL."""
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        def call() -> tuple[list[dict[str, Any]], str | None]:
            response = get_session().get(
                url, headers=build_hf_headers(token=self.token), timeout=self.timeout
            )
            hf_raise_for_status(response)
            items = response.json()
            next_link = response.links.get("next", {}).get("url")
            return items, next_link

        return self._retrying(f"GET {url}", call)

    def info(self, kind: str, repo_id: str) -> dict[str, Any] | None:
        """model_info / dataset_info as Hub JSON; None when the repo does not exist."""
        from huggingface_hub.errors import (
            DisabledRepoError,
            HfHubHTTPError,
            RepositoryNotFoundError,
        )

        getter = self.api.model_info if kind == "model" else self.api.dataset_info
        try:
            info = self._retrying(f"{kind}_info {repo_id}", lambda: getter(repo_id))
        except (
            RepositoryNotFoundError,
            ValueError,
        ):  # ValueError: not a valid repo id (e.g. a URL)
            return None
        except DisabledRepoError:
            return {"id": repo_id, "disabled": True, "cardData": {}}
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code in (401, 403):
                return {"id": repo_id, "gated": "manual", "cardData": {}}
            raise
        return info_to_json(info)

    def card_data(self, kind: str, repo_id: str) -> dict[str, Any]:
        """Read a card's YAML metadata from its README.md; raises ValueError for malformed YAML."""
        from huggingface_hub import DatasetCard, ModelCard

        path = self._retrying(
            f"README.md of {repo_id}",
            lambda: self.api.hf_hub_download(
                repo_id,
                "README.md",
                repo_type=None if kind == "model" else "dataset",
                cache_dir=self._cache.name,
            ),
        )
        card = (ModelCard if kind == "model" else DatasetCard).load(
            path, ignore_metadata_errors=True
        )
        return card.data.to_dict()

    def listing_url(self, kind: str, options: CrawlOptions) -> str:
        query: list[tuple[str, str]] = [
            ("full", "true"),
            ("cardData", "true"),
            ("sort", "lastModified"),
            ("direction", "-1"),
            ("limit", str(options.page_size)),
        ]
        if options.author:
            query.append(("author", options.author))
        if options.search:
            query.append(("search", options.search))
        query += [("filter", f) for f in options.filters]
        return f"{self.endpoint}/api/{kind}s?{urlencode(query)}"


def _retry_after(response: Any, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return default


def hub_reachable(endpoint: str | None, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub opens: a quick probe before an optional fetch."""
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    parts = urlsplit(endpoint or constants.ENDPOINT)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def info_to_json(info: Any) -> dict[str, Any]:
    """A huggingface_hub ModelInfo/DatasetInfo back into the Hub's JSON field names."""
    card = getattr(info, "card_data", None)
    return {
        "id": info.id,
        "author": info.author,
        "sha": info.sha,
        "lastModified": info.last_modified.isoformat() if info.last_modified else None,
        "createdAt": info.created_at.isoformat() if info.created_at else None,
        "downloads": info.downloads or 0,
        "likes": info.likes or 0,
        "tags": info.tags or [],
        "pipeline_tag": getattr(info, "pipeline_tag", None),
        "library_name": getattr(info, "library_name", None),
        "gated": info.gated,
        "disabled": info.disabled,
        "private": info.private,
        "cardData": card.to_dict() if card is not None else None,
        "siblings": [{"rfilename": f.rfilename} for f in info.siblings]
        if info.siblings is not None
        else None,
    }


class Crawler:
    """One crawl run over an engine; see the module docstring for the strategy."""

    def __init__(
        self, engine: Engine, options: CrawlOptions, progress: Progress | None = None
    ) -> None:
        self.engine = engine
        self.options = options
        self.client = HubClient(options.hub, options.timeout)
        self.summary = CrawlSummary()
        self.progress = progress or (lambda *_: None)
        self.kb = knowledge_base()

    def state_key(self, kind: str) -> str:
        o = self.options
        return "|".join(
            [
                self.client.endpoint,
                kind,
                o.author or "",
                o.search or "",
                ",".join(sorted(o.filters)),
            ]
        )

    def run(self) -> CrawlSummary:
        try:
            self._crawl_kind("model")
            if self.options.datasets:
                self._crawl_kind("dataset")
            self._close_lineage()
            self._refresh()
        finally:
            self.client.close()
        return self.summary

    def fetch_repos(
        self, model_ids: Sequence[str], dataset_ids: Sequence[str] = ()
    ) -> CrawlSummary:
        """Fetch the models and datasets among these that the catalog lacks, then the models'
        lineage (a scan's gate)."""
        try:
            with Session(self.engine) as session:
                for kind, ids in (("model", model_ids), ("dataset", dataset_ids)):
                    self._fetch_each(session, kind, not_held(session, kind, ids))
                session.commit()
            self._close_lineage()
            self._refresh()
        finally:
            self.client.close()
        return self.summary

    def _refresh(self) -> None:
        with Session(self.engine) as session:
            affected = refresh_stale(session)
            self.summary.verdicts = len(affected)
            save_index(session)

    def _load_state(self, session: Session, kind: str) -> CrawlState:
        state = session.get(CrawlState, self.state_key(kind))
        if state is None:
            state = CrawlState(key=self.state_key(kind))
        if self.options.resync and state.cursor_url is None:
            state.completed_through = None
        if state.cursor_url is None:
            state.started_at = utcnow()
            state.high_water = None
        return state

    def _pages(
        self, kind: str, state: CrawlState
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        url: str | None = state.cursor_url or self.client.listing_url(kind, self.options)
        while url:
            items, next_url = self.client.get_page(url)
            yield items, next_url
            url = next_url

    def _crawl_kind(self, kind: str) -> None:
        with Session(self.engine) as session:
            state = self._load_state(session, kind)
            stop_at = self.options.since or (
                None if self.options.resync else state.completed_through
            )
            if state.cursor_url:
                log.info("resuming the %s listing where the last run stopped", kind)
            seen = 0
            for items, next_url in self._pages(kind, state):
                fresh, reached_old = self._select(items, stop_at)
                if self.options.limit is not None:
                    fresh = fresh[: max(self.options.limit - seen, 0)]
                seen += len(fresh)
                self._store_page(session, kind, fresh)
                newest = max(
                    (d for d in (parse_datetime(i.get("lastModified")) for i in fresh) if d),
                    default=None,
                )
                if newest and (state.high_water is None or newest > as_utc(state.high_water)):
                    state.high_water = newest
                done = (
                    reached_old
                    or next_url is None
                    or (self.options.limit is not None and seen >= self.options.limit)
                )
                state.cursor_url = None if done else next_url
                session.add(state)
                session.commit()  # the page and the cursor of the next one, together
                self.summary.pages += 1
                self.progress(kind, len(fresh), self.summary)
                if done:
                    break
            state.completed_through = state.high_water or state.completed_through
            state.completed_at = utcnow()
            state.cursor_url = None
            session.add(state)
            session.commit()

    @staticmethod
    def _select(
        items: list[dict[str, Any]], stop_at: datetime | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Keep items modified at or after `stop_at`; say whether older ones were reached."""
        if stop_at is None:
            return items, False
        boundary = as_utc(stop_at)
        fresh = [
            i for i in items if (parse_datetime(i.get("lastModified")) or boundary) >= boundary
        ]
        return fresh, len(fresh) < len(items)

    def _record(self, kind: str, item: dict[str, Any]) -> ModelRecord | DatasetRecord | None:
        if item.get("cardData") is None and not item.get("disabled") and _has_readme(item):
            item = dict(item)
            try:
                item["cardData"] = self.client.card_data(kind, item["id"])
            except (ValueError, yaml.YAMLError) as exc:
                item["_card_errors"] = [f"card YAML: {str(exc).splitlines()[0][:200]}"]
            except HubUnreachable:
                raise
            except Exception as exc:  # gated, missing README, ...: keep the listing's facts
                item["_card_errors"] = [
                    f"card not readable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                ]
        try:
            return (model_record if kind == "model" else dataset_record)(item, self.kb)
        except BadRecord as exc:
            self.summary.errors += 1
            self.summary.error_messages.append(str(exc))
            return None

    def _store_page(self, session: Session, kind: str, items: list[dict[str, Any]]) -> None:
        records = [r for r in (self._record(kind, i) for i in items) if r is not None]
        self.summary.errors += sum(1 for r in records if r.card_errors)
        if kind == "model":
            result = upsert_models(session, records)  # type: ignore[arg-type]
        else:
            result = upsert_datasets(session, records)  # type: ignore[arg-type]
        # Verdicts of this page and of anything built on it, in the page's transaction.
        affected = (
            result.changed_ids
            if kind == "model"
            else models_trained_on(session, result.changed_ids)
        )
        # Recomputed once at the end of the run (and after a killed run, by the next one).
        mark_stale(session, affected)
        self.summary.new += result.counts["new"]
        self.summary.updated += result.counts["updated"]
        self.summary.unchanged += result.counts["unchanged"]
        self.summary.seen += len(records)

    def _fetch_each(self, session: Session, kind: str, repo_ids: Iterable[str]) -> None:
        """Fetch these repos one by one; store those the Hub has, record the others as missing."""
        found: list[dict[str, Any]] = []
        absent: list[str] = []
        for repo_id in repo_ids:
            info = self.client.info(kind, repo_id)
            if info:
                found.append(info)
            else:
                absent.append(repo_id)
        self._store_page(session, kind, found)
        self.summary.missing += mark_missing(session, kind, absent)

    def _close_lineage(self) -> None:
        """Fetch referenced base models and datasets the catalog lacks, to a bounded depth."""
        for _level in range(self.options.lineage_depth):
            with Session(self.engine) as session:
                # Referenced datasets are fetched even with --no-datasets: verdicts need them.
                bases, datasets = referenced_but_absent(session)
                if not bases and not datasets:
                    return
                for kind, ids in (("model", bases), ("dataset", datasets)):
                    self._fetch_each(session, kind, sorted(ids))
                session.commit()
                self.progress("lineage", len(bases) + len(datasets), self.summary)


def _has_readme(item: dict[str, Any]) -> bool:
    """Whether a listed repo has a card to read (the listing's siblings say; unknown counts as yes)."""
    siblings = item.get("siblings")
    if not isinstance(siblings, list):
        return True
    return any(isinstance(s, dict) and s.get("rfilename") == "README.md" for s in siblings)
