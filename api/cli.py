"""The `modelcatalog` command line (a Flask CLI group, so `routes` and `shell` work too)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlmodel import Session

from api.app import create_app, settings
from api.database import engine, new_session
from api.settings import SettingsError
from catalog.compliance_checks import DEFAULT_FAIL_ON, FAIL_ON, check_models, failing
from catalog.db import upgrade_schema
from catalog.errors import CatalogError, LicenseNotFound
from catalog.licenses import CATEGORIES, knowledge_base
from catalog.policies import USES, load_policy
from catalog.registry import sync_licenses
from catalog.search_index import save_index
from catalog.verdicts import (
    mark_rules_current,
    refresh_verdicts,
    rules_digest,
    stored_rules_digest,
)
from ingest.relicense import resolve_stored_licenses
from ingest.snapshot import bundled_snapshot_lines, export_snapshot, import_snapshot

if TYPE_CHECKING:
    from demo_runner.generate import LoadedModel
    from demo_runner.jobs import DemoManager


def _create_app() -> Flask:
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(
    cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False
)
def main() -> None:
    """modelcatalog: search open models and check their licenses, lineage included."""


@main.command()
@click.option(
    "--no-seed", is_flag=True, help="Do not load the bundled snapshot of models and datasets."
)
def init(no_seed: bool) -> None:
    """Create or upgrade the database, load the license knowledge base and the bundled snapshot."""
    upgrade_schema(engine())
    with new_session() as session:
        sync_licenses(session, knowledge_base())
        session.commit()
        _apply_rule_changes(session)
        if not no_seed:
            report = import_snapshot(session, bundled_snapshot_lines())
            click.echo(
                f"Loaded the bundled snapshot: {sum(report.models.counts.values())} models, "
                f"{sum(report.datasets.counts.values())} datasets."
            )
        else:
            refresh_verdicts(session)
            session.commit()
    click.echo(f"Database ready: {engine().url.render_as_string(hide_password=True)}")


def _apply_rule_changes(session: Session) -> None:
    """When the bundled knowledge changed since the verdicts were stored, re-judge the catalog."""
    if stored_rules_digest(session) == rules_digest():
        return
    relicensed = resolve_stored_licenses(session, knowledge_base())
    affected = refresh_verdicts(session)
    mark_rules_current(session)
    session.commit()
    save_index(session)
    if affected:
        click.echo(
            f"License rules changed: {len(relicensed.models)} models and "
            f"{len(relicensed.datasets)} datasets resolved anew, {len(affected)} verdicts recomputed."
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256),
    help="Request threads per process.",
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="Processes (gunicorn); more than one needs MODELCATALOG_DEMO_BACKEND=ray or off.",
)
def serve(host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web pages and the REST API with a production WSGI server.

    One process: waitress. Several (--workers N): gunicorn with threaded workers, when demos run on
    Ray or are off, since the local demo backend keeps jobs and models in one process.
    """
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = _demo_backend_name()
    if workers > 1 and backend == "local":
        click.echo(
            f"--workers {workers}: the local demo backend keeps demos in one process, so this "
            "server stays one process (set MODELCATALOG_DEMO_BACKEND=ray or off for several).",
            err=True,
        )
        workers = 1
    click.echo(f"modelcatalog on http://{host}:{port}/ (API: http://{host}:{port}/api/v1/docs)")
    if workers == 1:
        # waitress: one process with a thread pool; SQLite and CTranslate2 release the GIL.
        from waitress import serve as waitress_serve

        try:
            waitress_serve(app, host=host, port=port, threads=threads, ident="modelcatalog")
        finally:
            demos = app.extensions.get("modelcatalog.demos")
            if demos is not None:
                demos.close()
        return
    from api.gunicorn import serve_with_gunicorn

    click.echo(f"{workers} worker processes, {threads} threads each (demos: {backend})")
    serve_with_gunicorn(host=host, port=port, workers=workers, threads=threads)


def _demo_backend_name() -> str:
    try:
        from demo_runner.backends import ScaleSettings
    except ImportError:  # without the demo extra there are no demos to keep in one process
        return "off"
    try:
        return ScaleSettings.from_environment().backend.value
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@main.group()
def ingest() -> None:
    """Get models and datasets into the catalog."""


@ingest.command("snapshot")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def ingest_snapshot(file: TextIO) -> None:
    """Import a JSON-lines snapshot (Hub API objects; "kind": "dataset" marks datasets)."""
    with new_session() as session:
        report = import_snapshot(session, file)
    for number, message in report.bad_lines:
        click.echo(f"line {number}: skipped: {message}", err=True)
    for kind, result in (("models", report.models), ("datasets", report.datasets)):
        counts = result.counts
        click.echo(
            f"{kind}: {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
        )
    if report.card_errors:
        click.echo(f"{report.card_errors} records had card errors (kept, see card_errors)")
    if report.bad_lines:
        click.echo(f"{len(report.bad_lines)} bad lines skipped", err=True)


@ingest.command("hub")
@click.option("--author", help="Only repos of this user or organisation.")
@click.option("--search", help="Only repos whose id contains this text.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    help="A Hub tag filter (license:mit, text-generation, dataset:X); repeatable.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Stop after this many models (and as many datasets).",
)
@click.option(
    "--datasets/--no-datasets", default=True, show_default=True, help="Crawl datasets after models."
)
@click.option(
    "--resync", is_flag=True, help="A full pass, ignoring where the last completed run stopped."
)
@click.option("--since", type=click.DateTime(), help="Only repos modified since this date.")
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1, 1000))
def ingest_hub(
    author: str | None,
    filters: tuple[str, ...],
    search: str | None,
    limit: int | None,
    datasets: bool,
    resync: bool,
    since: datetime | None,
    page_size: int,
) -> None:
    """Crawl the Hub (HF_ENDPOINT, HF_TOKEN) into the catalog: incremental by default, resumable."""
    from ingest.errors import HubUnreachable
    from ingest.hub import Crawler, CrawlOptions
    from ingest.progress import crawl_progress

    options = CrawlOptions(
        author=author,
        search=search,
        filters=tuple(filters),
        limit=limit,
        datasets=datasets,
        resync=resync,
        since=since,
        page_size=page_size,
        hub=settings().hub,
    )
    with crawl_progress() as progress:
        crawler = Crawler(engine(), options, progress)
        try:
            summary = crawler.run()
        except HubUnreachable as exc:
            click.echo(f"\nError: {exc}", err=True)
            click.echo(
                f"Kept what was fetched so far: {crawler.summary.line()}. Run again to resume.",
                err=True,
            )
            sys.exit(3)
    for message in summary.error_messages[:20]:
        click.echo(f"skipped: {message}", err=True)
    click.echo(f"Crawl finished: {summary.line()}")


@main.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"))
def export(file: TextIO) -> None:
    """Export models and datasets as JSON lines, in the format `ingest snapshot` reads."""
    count = 0
    with new_session() as session:
        for line in export_snapshot(session):
            file.write(line + "\n")
            count += 1
    click.echo(f"Exported {count} records.", err=True)


def _main_reason(verdict: dict) -> str:
    if verdict["reasons"]:
        return verdict["reasons"][0]["text"]
    return (
        "no restrictions found"
        if not verdict["obligations"]
        else "notices only (attribution, license text)"
    )


@main.command()
@click.argument("repo_ids", nargs=-1, required=True)
@click.option(
    "--use",
    type=click.Choice(USES),
    default="commercial",
    show_default=True,
    help="What you want to do.",
)
@click.option(
    "--policy",
    "policy_name",
    default="default",
    show_default=True,
    help="default, strict, or a path to your own policy file.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default=DEFAULT_FAIL_ON,
    show_default=True,
    help="The least verdict that fails the check: 'conditional' also fails on any obligation.",
)
@click.option("--json", "as_json", is_flag=True, help="One verdict object per line.")
def check(
    repo_ids: tuple[str, ...], use: str, policy_name: str, fail_on: str, as_json: bool
) -> None:
    """Check models for a use (a CI gate).

    Exit 0 if every verdict passes, 1 if any is `--fail-on` or worse (by default: forbidden or
    unknown; with --fail-on conditional, anything but allowed), 2 on bad usage."""
    try:
        policy = load_policy(policy_name)
    except CatalogError as exc:
        raise click.UsageError(str(exc)) from None
    with new_session() as session:
        verdicts = [
            v.to_dict() for v in check_models(session, list(repo_ids), use=use, policy=policy)
        ]
    for verdict in verdicts:
        if as_json:
            click.echo(json.dumps(verdict))
        else:
            click.echo(
                f"{verdict['model']:<45} {verdict['verdict']:<12} "
                f"{verdict['effective_license']['category']:<15} {_main_reason(verdict)}"
            )
    stopped = failing(verdicts, fail_on)
    if stopped:
        if not as_json:
            click.echo(
                f"{len(stopped)} of {len(verdicts)} not cleared (fail on {fail_on} or worse)",
                err=True,
            )
        sys.exit(1)


@main.group()
def demo() -> None:
    """Quantized CTranslate2 demos of catalog models (int8 on CPU, int8_float16 on CUDA)."""


def _demo_model(repo_id: str, gguf: str | None) -> tuple[DemoManager, LoadedModel]:
    """Build (or take from the cache) a demo of a catalog model, with a progress bar; exit 1 on failure."""
    from catalog.errors import ModelNotFound
    from catalog.queries import get_model
    from demo_runner.jobs import DemoManager

    try:
        with new_session() as session:
            get_model(session, repo_id)
    except ModelNotFound:
        raise click.UsageError(
            f"{repo_id} is not in the catalog (only catalog models can be demoed; see `modelcatalog ingest`)"
        ) from None
    manager = DemoManager(settings().demo)
    job = manager.start(repo_id, gguf_file=Path(gguf) if gguf else None)
    with click.progressbar(
        length=100,
        label=f"{repo_id} ({manager.choice.device}, {manager.choice.compute_type})",
        file=sys.stderr,
    ) as bar:
        shown = 0
        while not job.done.wait(0.2):
            step = int(job.progress * 100) - shown
            if step > 0:
                bar.update(step)
                shown += step
        bar.update(100 - shown)
    if job.state != "ready" or job.loaded is None:
        click.echo(f"Error: {job.error}", err=True)
        sys.exit(1)
    return manager, job.loaded


@demo.command("run")
@click.argument("repo_id")
@click.option("--prompt", required=True, help="The user message.")
@click.option("--max-tokens", default=128, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--temperature",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 2),
    help="0 is greedy.",
)
@click.option(
    "--gguf",
    type=click.Path(exists=True, dir_okay=False),
    help="Convert this local GGUF file instead.",
)
def demo_run(
    repo_id: str, prompt: str, max_tokens: int, temperature: float, gguf: str | None
) -> None:
    """Answer one prompt, printing the answer as it streams."""
    from demo_runner.generate import GenerationParams

    manager, loaded = _demo_model(repo_id, gguf)
    params = GenerationParams(max_tokens=max_tokens, temperature=temperature)
    for piece in loaded.stream([{"role": "user", "content": prompt}], params):
        click.echo(piece, nl=False)
    click.echo()
    manager.close()


@demo.command("serve")
@click.argument("repo_id")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo_serve(repo_id: str, host: str, port: int) -> None:
    """Serve one demo as a standalone OpenAI-compatible server (/v1/chat/completions, /v1/models)."""
    from waitress import serve as waitress_serve

    from demo_runner.standalone import standalone_app

    manager, loaded = _demo_model(repo_id, None)
    click.echo(f"{repo_id} on http://{host}:{port}/v1/chat/completions")
    try:
        waitress_serve(standalone_app(loaded, repo_id), host=host, port=port, threads=8)
    finally:
        manager.close()


@demo.command("export")
@click.argument("repo_id")
@click.argument("directory", type=click.Path(file_okay=False))
def demo_export(repo_id: str, directory: str) -> None:
    """Write a standalone demo bundle: the converted model, a small app, requirements and a README."""
    from demo_runner.bundle import export_bundle

    manager, loaded = _demo_model(repo_id, None)
    export_bundle(loaded.path, Path(directory), repo_id)
    manager.close()
    click.echo(
        f"Wrote {directory}: run `pip install -r {directory}/requirements.txt && python {directory}/app.py`"
    )


@main.group()
def licenses() -> None:
    """The license knowledge base."""


@licenses.command("list")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only this category.")
def licenses_list(category: str | None) -> None:
    """List licenses with their category."""
    for entry in sorted(knowledge_base().licenses.values(), key=lambda e: e.id):
        if category is None or entry.category == category:
            click.echo(f"{entry.id:<40} {entry.category:<15} {entry.name}")


@licenses.command("show")
@click.argument("license_id")
def licenses_show(license_id: str) -> None:
    """Show one license: terms and sources."""
    try:
        entry = knowledge_base().get(license_id)
    except LicenseNotFound as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{entry.name} ({entry.id})")
    click.echo(f"category: {entry.category}")
    for label, value in (("SPDX", entry.spdx), ("text", entry.url), ("source", entry.source)):
        if value:
            click.echo(f"{label}: {value}")
    for label, terms in (
        ("permissions", entry.permissions),
        ("conditions", entry.conditions),
        ("limitations", entry.limitations),
    ):
        if terms:
            click.echo(f"{label}:")
            for term in terms:
                click.echo(f"  - {term.code}: {term.text}")
    for label, value in (("note", entry.note), ("differs from ScanCode/DPI", entry.differs)):
        if value:
            click.echo(f"{label}: {value}")


if __name__ == "__main__":
    main()
