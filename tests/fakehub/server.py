"""A small threaded HTTP server that imitates the Hub API routes huggingface_hub calls.

Listings with search/author/filter/sort/limit/full/cardData/expand and cursor pagination through an
absolute `Link: <...>; rel="next"` header; model_info / dataset_info; HEAD/GET .../resolve/... with
X-Repo-Commit and ETag; 404s with X-Error-Code; gated repos (401 without a token, 403 until the
terms are accepted); injectable faults (429 + Retry-After, 500, slow answers, a body that breaks off).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

LIST_FIELDS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
FULL_FIELDS = ("sha", "lastModified", "gated", "disabled", "siblings")
SORT_KEYS = {
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "downloads": "downloads",
    "likes": "likes",
    "id": "id",
}


@dataclass
class Fault:
    """A fault served to requests whose path starts with `path`, `times` times."""

    path: str
    status: int | None = None  # 429, 500, 503...
    retry_after: int | None = None
    delay: float = 0.0  # seconds before answering
    break_off: bool = False  # promise a body, send half, close
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    hits: int = 0
    seen: int = 0


@dataclass
class Repo:
    info: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    _encoded: dict[tuple[object, ...], str] = field(default_factory=dict)

    def encoded(self, shape: tuple[object, ...], encode: Any) -> str:
        """The listing JSON of this repo for one response shape, encoded once (benchmarks list 100k repos)."""
        if shape not in self._encoded:
            self._encoded[shape] = encode()
        return self._encoded[shape]

    @property
    def sha(self) -> str:
        return self.info.get("sha") or hashlib.sha1(self.info["id"].encode()).hexdigest()


def card_readme(card: dict[str, Any] | None, body: str = "") -> bytes:
    front = yaml.safe_dump(card or {}, sort_keys=False) if card else ""
    return (f"---\n{front}---\n\n{body}" if front else body).encode()


class FakeHub:
    """The Hub's state (repos, tokens, faults) and the server that serves it on 127.0.0.1."""

    def __init__(self, page_size_cap: int = 1000) -> None:
        self._server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()
        self.reset(page_size_cap)

    def reset(self, page_size_cap: int = 1000) -> FakeHub:
        """Forget every repo, token and fault: one server serves a whole test session."""
        self.models: dict[str, Repo] = {}
        self.datasets: dict[str, Repo] = {}
        self.tokens: set[str] = set()
        self.accepted: set[tuple[str, str]] = set()  # (token, repo id) that accepted gated terms
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.page_size_cap = page_size_cap
        self.page_delay = 0.0  # seconds every listing page takes (for kill-and-resume tests)
        self._sorted_cache: dict[tuple[object, ...], list[Repo]] = {}
        return self

    # --- state ---------------------------------------------------------------------------
    def add_model(
        self, info: dict[str, Any], files: dict[str, bytes] | None = None, readme: bool = True
    ) -> None:
        repo = Repo(dict(info), dict(files or {}))
        if readme and "README.md" not in repo.files:
            repo.files["README.md"] = card_readme(info.get("cardData"))
        self.models[info["id"]] = repo
        self._sorted_cache.clear()

    def add_dataset(self, info: dict[str, Any], readme: bool = True) -> None:
        repo = Repo(dict(info))
        if readme:
            repo.files["README.md"] = card_readme(info.get("cardData"))
        self.datasets[info["id"]] = repo
        self._sorted_cache.clear()

    def inject(self, path: str, **kwargs: Any) -> Fault:
        fault = Fault(path=path, **kwargs)
        self.faults.append(fault)
        return fault

    # --- server --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fakehub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval (the default 0.5 s).
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # --- listing -------------------------------------------------------------------------
    def matching(self, kind: str, sort: str | None, query: dict[str, list[str]]) -> list[Repo]:
        """Repos matching a listing query, cached per query so paging stays cheap (the cursor is not part of it)."""
        key = (
            kind,
            sort,
            tuple(
                sorted(
                    (k, tuple(v)) for k, v in query.items() if k not in ("cursor", "skip", "limit")
                )
            ),
        )
        if key not in self._sorted_cache:
            self._sorted_cache[key] = [
                r for r in self.sorted_repos(kind, sort) if _matches(r.info, query)
            ]  # type: ignore[index]
        return self._sorted_cache[key]  # type: ignore[index]

    def sorted_repos(self, kind: str, sort: str | None) -> list[Repo]:
        key = SORT_KEYS.get(sort or "", "id")
        cache_key = (kind, key)
        if cache_key not in self._sorted_cache:
            repos = list((self.models if kind == "models" else self.datasets).values())
            reverse = key != "id"  # the Hub sorts these descending by default
            repos.sort(
                key=lambda r: (
                    r.info.get(key) or (0 if key in ("downloads", "likes") else ""),
                    r.info["id"],
                ),
                reverse=reverse,
            )
            self._sorted_cache[cache_key] = repos
        return self._sorted_cache[cache_key]


def _matches(info: dict[str, Any], query: dict[str, list[str]]) -> bool:
    if "author" in query and info.get("author", info["id"].split("/")[0]) != query["author"][0]:
        return False
    if "search" in query and query["search"][0].lower() not in info["id"].lower():
        return False
    labels = set(info.get("tags") or []) | {info.get("pipeline_tag"), info.get("library_name")}
    return all(f in labels for f in query.get("filter", []))


def _public(info: dict[str, Any], query: dict[str, list[str]], repo: Repo) -> dict[str, Any]:
    expand = query.get("expand")
    if expand:
        return {
            "_id": info.get("_id"),
            "id": info["id"],
            **{k: info.get(k) for k in expand if k in info},
        }
    flag = lambda name: query.get(name, ["false"])[0].lower() == "true"  # noqa: E731 (clients send True or true)
    item = {k: info.get(k) for k in LIST_FIELDS if k in info or k in ("id", "modelId")}
    item["modelId"] = info["id"]
    if flag("full"):
        item.update({k: info.get(k) for k in FULL_FIELDS if k in info})
        item["sha"] = repo.sha
        item["siblings"] = [{"rfilename": name} for name in sorted(repo.files)]
        item.setdefault("gated", False)
    if flag("cardData") and info.get("cardData") is not None:
        item["cardData"] = info["cardData"]
    return item


class _Handler(BaseHTTPRequestHandler):
    fakehub: FakeHub
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle's algorithm on, the client's delayed
    # ACK adds ~40 ms to every answer on loopback.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # --- plumbing ------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        head: bool = False,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(
            status,
            body,
            {
                "Content-Type": "application/json",
                "X-Error-Code": code,
                "X-Error-Message": message,
                **(extra or {}),
            },
            head=head,
        )

    def _fault(self, path: str, head: bool) -> bool:
        hub = self.fakehub
        with hub.lock:
            fault = None
            for candidate in hub.faults:
                if path.startswith(candidate.path) and candidate.hits < candidate.times:
                    candidate.seen += 1
                    if candidate.seen > candidate.skip:
                        fault = candidate
                        fault.hits += 1
                        break
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._error(fault.status, "Fault", f"injected {fault.status}", head=head, extra=extra)
            return True
        if fault.break_off:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'[{"id": "broken')
            self.wfile.flush()
            self.close_connection = True
            return True
        return False  # a slow answer that then goes on normally

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else None

    # --- routes --------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        with self.fakehub.lock:
            self.fakehub.requests.append(self.path)
        if self._fault(path, head):
            return
        if path in ("/api/models", "/api/datasets"):
            return self._list(path.rsplit("/", 1)[1], query)
        for kind in ("models", "datasets"):
            prefix = f"/api/{kind}/"
            if path.startswith(prefix):
                return self._info(kind, path[len(prefix) :])
        if "/resolve/" in path:
            return self._resolve(path, head)
        self._error(404, "NotFound", f"no route {path}", head=head)

    def _list(self, kind: str, query: dict[str, list[str]]) -> None:
        hub = self.fakehub
        if hub.page_delay:
            time.sleep(hub.page_delay)
        sort = query.get("sort", [None])[0]
        repos = hub.matching(kind, sort, query)
        limit = min(int(query.get("limit", ["1000"])[0]), hub.page_size_cap)
        cursor = query.get("cursor", [None])[0]
        start = (
            int(base64.urlsafe_b64decode(cursor).decode())
            if cursor
            else int(query.get("skip", ["0"])[0])
        )
        page = repos[start : start + limit]
        headers = {}
        if start + limit < len(repos):
            next_query = {k: v for k, v in query.items() if k not in ("cursor", "skip")}
            next_query["cursor"] = [base64.urlsafe_b64encode(str(start + limit).encode()).decode()]
            next_url = f"{hub.url}/api/{kind}?{urlencode(next_query, doseq=True)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        shape = (
            tuple(query.get("expand", [])),
            query.get("full", [""])[0].lower(),
            query.get("cardData", [""])[0].lower(),
        )
        body = (
            "["
            + ",".join(
                r.encoded(shape, lambda r=r: json.dumps(_public(r.info, query, r))) for r in page
            )
            + "]"
        )
        self._send(200, body.encode(), {"Content-Type": "application/json", **headers})

    def _info(self, kind: str, rest: str) -> None:
        repo_id = rest.split("/revision/")[0].split("/tree/")[0]
        repo = (self.fakehub.models if kind == "models" else self.fakehub.datasets).get(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        if "/tree/" in rest:  # list_repo_tree, which snapshot_download uses
            entries = [
                {
                    "type": "file",
                    "path": name,
                    "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest(),
                }
                for name, data in sorted(repo.files.items())
            ]
            return self._json(200, entries)
        if repo.info.get("disabled"):
            return self._error(403, "DisabledRepo", "Access to this resource is disabled.")
        info = dict(repo.info)
        info["sha"] = repo.sha
        info["siblings"] = [
            {"rfilename": name, "size": len(data)} for name, data in sorted(repo.files.items())
        ]
        info.setdefault("gated", False)
        self._json(200, info)

    def _resolve(self, path: str, head: bool) -> None:
        kind = "datasets" if path.startswith("/datasets/") else "models"
        repo_path = path[len("/datasets/") :] if kind == "datasets" else path[1:]
        repo_id, _, rest = repo_path.partition("/resolve/")
        _revision, _, filename = rest.partition("/")
        repo = (self.fakehub.models if kind == "models" else self.fakehub.datasets).get(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", "Repository not found", head=head)
        gated = repo.info.get("gated") not in (None, False, "false")
        if gated:
            token = self._token()
            if token is None or token not in self.fakehub.tokens:
                return self._error(
                    401, "GatedRepo", "Access to this gated repo requires a token", head=head
                )
            if (token, repo_id) not in self.fakehub.accepted:
                return self._error(
                    403, "GatedRepo", "Accept the terms of this repo on the Hub", head=head
                )
        data = repo.files.get(filename)
        headers = {"X-Repo-Commit": repo.sha}
        if data is None:
            return self._error(
                404, "EntryNotFound", f"{filename} not found", head=head, extra=headers
            )
        etag = hashlib.sha256(data).hexdigest()
        self._send(
            200,
            data,
            {**headers, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"},
            head=head,
        )


def main() -> None:
    """Serve a JSON-lines file of Hub records: python -m tests.fakehub.server FILE PORT [PAGE_DELAY]."""
    import sys

    hub = FakeHub()
    hub.page_delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    with open(sys.argv[1], encoding="utf-8") as lines:
        for line in lines:
            info = json.loads(line)
            (hub.add_dataset if info.pop("kind", "model") == "dataset" else hub.add_model)(
                info, readme=False
            )
    hub.start(int(sys.argv[2]))
    print(hub.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
