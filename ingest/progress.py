"""Crawl progress: a bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ingest.hub import CrawlSummary, Progress


@contextmanager
def crawl_progress() -> Iterator[Progress]:
    started = time.monotonic()
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" repos", file=sys.stderr, dynamic_ncols=True)

        def update(kind: str, count: int, summary: CrawlSummary) -> None:
            bar.set_description(kind)
            bar.set_postfix(
                pages=summary.pages, new=summary.new, updated=summary.updated, errors=summary.errors
            )
            bar.update(count)

        try:
            yield update
        finally:
            bar.close()
        return

    def log_line(kind: str, count: int, summary: CrawlSummary) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        click.echo(
            f"[{kind}] page {summary.pages}: +{count}; {summary.seen} repos, {summary.seen / elapsed:.0f}/s, "
            f"{summary.new} new, {summary.updated} updated, {summary.errors} errors",
            err=True,
        )

    yield log_line
