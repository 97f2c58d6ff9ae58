"""The `modelcatalog` command line (a Flask CLI group, so `routes` and `shell` work too).

Imports of the database layer, the compliance engine and the web app happen inside the commands
that use them: `modelcatalog scan` (a pre-commit hook) starts without them, and so do the worker
processes a large scan starts.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from flask.cli import FlaskGroup

from catalog.licenses import CATEGORIES
from catalog.policies import DEFAULT_FAIL_ON, FAIL_ON, USES

if TYPE_CHECKING:
    from flask import Flask
    from sqlmodel import Session

    from catalog.policies import Policy
    from demo_runner.generate import LoadedModel
    from demo_runner.jobs import DemoManager
    from ingest.scan import ScanResult


def _create_app(*, routes: bool = True) -> Flask:
    from api.app import create_app
    from api.settings import SettingsError

    try:
        return create_app(routes=routes)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


class _CommandGroup(FlaskGroup):
    """The Flask CLI group, with the people commands loaded from api/cli_people.py on first use,
    and Flask extensions' commands (entry points, which import those extensions) loaded only
    when a command is not one of ours."""

    people_commands = ("users", "curate", "review", "audit", "webhooks")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.people_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.people_commands:
            command: click.Command = getattr(import_module("api.cli_people"), cmd_name)
            return command
        return self.commands.get(cmd_name) or super().get_command(ctx, cmd_name)


@click.group(
    cls=_CommandGroup,
    create_app=_create_app,
    add_default_commands=True,
    add_version_option=False,
)
def main() -> None:
    """modelcatalog: search open models and check their licenses, lineage included."""


@main.command()
@click.option(
    "--no-seed", is_flag=True, help="Do not load the bundled snapshot of models and datasets."
)
def init(no_seed: bool) -> None:
    """Create or upgrade the database, load the license knowledge base and the bundled snapshot."""
    from api.database import engine, new_session
    from catalog.db import upgrade_schema
    from catalog.licenses import knowledge_base
    from catalog.registry import sync_licenses
    from catalog.search_index import save_index, saved_index_outdated
    from catalog.verdicts import refresh_verdicts
    from ingest.snapshot import bundled_snapshot_lines, import_snapshot

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
        if saved_index_outdated(session):
            save_index(session)
            click.echo("Search index saved anew (its sort buckets changed).")
    click.echo(f"Database ready: {engine().url.render_as_string(hide_password=True)}")


def _apply_rule_changes(session: Session) -> None:
    """When the bundled knowledge changed since the verdicts were stored, re-judge the catalog."""
    from catalog.licenses import knowledge_base
    from catalog.search_index import save_index
    from catalog.verdicts import (
        mark_rules_current,
        refresh_verdicts,
        rules_digest,
        stored_rules_digest,
    )
    from ingest.relicense import resolve_stored_licenses

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
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads per process for pages, search and the API; demo chats get their own on top.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes (gunicorn); more than one needs MODELCATALOG_DEMO_BACKEND=ray or off.",
)
@click.option(
    "--connection-limit",
    default=1000,
    show_default=True,
    type=click.IntRange(10, 100_000),
    help="Open connections at most (idle and slow ones included; waitress).",
)
@click.option(
    "--channel-timeout",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds before an idle or stalled connection is closed (waitress).",
)
def serve(
    host: str, port: int, threads: int, workers: int, connection_limit: int, channel_timeout: int
) -> None:
    """Serve the web pages and the REST API with a production WSGI server.

    One process: waitress. Several (--workers N): gunicorn with threaded workers, when demos run on
    Ray or are off, since the local demo backend keeps jobs and models in one process. For the
    internet, put a reverse proxy in front (README: nginx configuration).
    """
    from flask import current_app

    from api.database import engine
    from api.serving import waitress_options
    from catalog.webhooks import WebhookDispatcher

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
    dispatcher = WebhookDispatcher(engine()).start()
    try:
        if workers == 1:
            # waitress: one process with a thread pool; SQLite and CTranslate2 release the GIL.
            from waitress import serve as waitress_serve

            options = waitress_options(
                threads,
                streams=app.config["SETTINGS"].demo.max_streams_total,
                connection_limit=connection_limit,
                channel_timeout=channel_timeout,
            )
            waitress_serve(app, host=host, port=port, **options)
            return
        from api.gunicorn import serve_with_gunicorn

        click.echo(f"{workers} worker processes, {threads} threads each (demos: {backend})")
        serve_with_gunicorn(host=host, port=port, workers=workers, threads=threads)
    finally:
        dispatcher.close()
        demos = app.extensions.get("modelcatalog.demos")
        if demos is not None:
            demos.close()


def _demo_backend_name() -> str:
    from api.app import settings

    try:
        import demo_runner.backends  # noqa: F401
    except ImportError:  # without the demo extra there are no demos to keep in one process
        return "off"
    return settings().scale.backend.value


@main.group()
def ingest() -> None:
    """Get models and datasets into the catalog."""


@ingest.command("snapshot")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def ingest_snapshot(file: TextIO) -> None:
    """Import a JSON-lines snapshot (Hub API objects; "kind": "dataset" marks datasets)."""
    from api.database import new_session
    from ingest.snapshot import import_snapshot

    with new_session() as session:
        report = import_snapshot(session, file)
    for number, message in report.bad_lines:
        click.echo(f"line {number}: skipped: {message}", err=True)
    for kind, result in (("models", report.models), ("datasets", report.datasets)):
        counts = result.counts
        click.echo(
            f"{kind}: {counts['new']} new, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged (same content), {len(result.skipped)} skipped"
        )
        for repo_id, reason in result.skipped:
            click.echo(f"{repo_id}: skipped: {reason}", err=True)
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
    from api.app import settings
    from api.database import engine
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
    from api.database import new_session
    from ingest.snapshot import export_snapshot

    count = 0
    with new_session() as session:
        for line in export_snapshot(session):
            file.write(line + "\n")
            count += 1
    click.echo(f"Exported {count} records.", err=True)


def _main_reason(verdict: dict) -> str:
    if verdict["review"]:
        return verdict["gate"]["why"]
    if verdict["reasons"]:
        return verdict["reasons"][0]["text"]
    return (
        "no restrictions found"
        if not verdict["obligations"]
        else "notices only (attribution, license text)"
    )


def _policy(policy_name: str) -> Policy:
    from catalog.errors import CatalogError
    from catalog.policies import load_policy

    try:
        return load_policy(policy_name)
    except CatalogError as exc:
        raise click.UsageError(str(exc)) from None


def _require_catalog() -> None:
    """A clear usage error, not a traceback, when the catalog database is not set up."""
    from api.database import engine
    from catalog.db import schema_ready

    if not schema_ready(engine()):
        url = engine().url.render_as_string(hide_password=True)
        raise click.UsageError(
            f"no catalog at {url}: run `modelcatalog init` or set DATABASE_URL to a catalog"
        )


def _verdicts(
    repo_ids: list[str],
    use: str,
    policy_name: str,
    *,
    fail_on: str = DEFAULT_FAIL_ON,
    scope: str | None = None,
) -> list[dict]:
    """Verdict documents with curated reasons, the current review and the gate's answer."""
    from api.database import new_session
    from catalog.compliance_checks import verdict_documents

    policy = _policy(policy_name)
    _require_catalog()
    with new_session() as session:
        return verdict_documents(
            session, repo_ids, use=use, policy=policy, scope=scope, fail_on=fail_on
        )


def _dataset_verdicts(
    dataset_ids: list[str], use: str, policy_name: str, *, fail_on: str
) -> list[dict]:
    """Verdicts on the datasets a scan found, by the policy's rules for training data."""
    from api.database import new_session
    from catalog.compliance_checks import dataset_documents

    if not dataset_ids:
        return []
    policy = _policy(policy_name)
    with new_session() as session:
        return dataset_documents(session, dataset_ids, use=use, policy=policy, fail_on=fail_on)


def _echo_verdicts(
    verdicts: list[dict],
    output_format: str,
    fail_on: str,
    unmapped: list[dict[str, str | None]] | None = None,
) -> None:
    """The verdicts as a table, JSON lines or JUnit; a BOM's model components that map to no
    repo id are failures in JUnit and lines of their own (`{"unmapped": {...}}`) in JSON (the
    table's caller has named them on stderr)."""
    from api.ci_reports import junit_report

    if output_format == "junit":
        click.echo(junit_report(verdicts, fail_on, unmapped or []))
        return
    if output_format == "json":
        for component in unmapped or []:
            click.echo(json.dumps({"unmapped": component}))
    for verdict in verdicts:
        if output_format == "json":
            click.echo(json.dumps(verdict))
        else:
            shown = verdict["model"] if "model" in verdict else f"{verdict['dataset']} (dataset)"
            click.echo(
                f"{shown:<45} {verdict['verdict']:<12} "
                f"{verdict['effective_license']['category']:<15} {_main_reason(verdict)}"
            )


def _bom_repo_ids(path: str) -> tuple[list[str], list[dict[str, str | None]]]:
    """The models a BOM file names, and its model components that map to none (reported on
    stderr too)."""
    from catalog.bom_read import bom_models, component_name, parse_bom
    from catalog.errors import CatalogError

    suffix = Path(path).suffix.lower()
    bom_format = (
        "xml" if suffix == ".xml" else "json" if suffix == ".json" else None
    )  # else sniffed
    try:
        found = bom_models(parse_bom(Path(path).read_bytes(), bom_format))
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror}") from None
    except CatalogError as exc:
        raise click.UsageError(f"{path}: {exc}") from None
    for component in found.unmapped:
        shown = component_name(component)
        click.echo(f"{path}: model component {shown} maps to no Hub repo id", err=True)
    return found.repo_ids, found.unmapped


USE_OPTION = click.option(
    "--use",
    type=click.Choice(USES),
    default="commercial",
    show_default=True,
    help="What you want to do.",
)
POLICY_OPTION = click.option(
    "--policy",
    "policy_name",
    default="default",
    show_default=True,
    help="default, strict, or a path to your own policy file.",
)
FAIL_ON_OPTION = click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default=DEFAULT_FAIL_ON,
    show_default=True,
    help="The least verdict that fails the check: 'conditional' also fails on any obligation.",
)


# Without the whole app's context: the verdicts need the database, not the routes (_with_app).
@main.command(with_appcontext=False)
@click.argument("repo_ids", nargs=-1)
@USE_OPTION
@POLICY_OPTION
@FAIL_ON_OPTION
@click.option("--json", "as_json", is_flag=True, help="One verdict object per line.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "junit"]),
    help="table (default), json (as --json) or junit (JUnit XML for CI test reports).",
)
@click.option(
    "--bom",
    "bom_file",
    type=click.Path(dir_okay=False),
    help="Also judge every model component of this CycloneDX BOM, JSON or XML (by purl, else by name).",
)
@click.option("--scope", help="A project or team: its reviews count before unscoped ones.")
def check(
    repo_ids: tuple[str, ...],
    use: str,
    policy_name: str,
    fail_on: str,
    as_json: bool,
    output_format: str | None,
    bom_file: str | None,
    scope: str | None,
) -> None:
    """Check models for a use (a CI gate).

    Exit 0 if every verdict passes, 1 if any is `--fail-on` or worse (by default: forbidden or
    unknown; with --fail-on conditional, anything but allowed), 2 on bad usage. A current review
    decides instead: approved passes, rejected or needs-legal fails. A BOM's model components
    that map to no Hub repo id fail the check too."""
    from catalog.compliance_checks import failing

    ids = _hub_ids(repo_ids)
    unmapped: list[dict[str, str | None]] = []
    if bom_file:
        from_bom, unmapped = _bom_repo_ids(bom_file)
        ids += [i for i in from_bom if i not in ids]
    if not ids and not unmapped:
        raise click.UsageError("give at least one REPO_ID or a --bom file that lists models")
    _with_app()
    verdicts = _verdicts(ids, use, policy_name, fail_on=fail_on, scope=scope)
    output_format = output_format or ("json" if as_json else "table")
    _echo_verdicts(verdicts, output_format, fail_on, unmapped)
    stopped = failing(verdicts, fail_on)
    if stopped or unmapped:
        if output_format == "table":
            click.echo(
                f"{len(stopped) + len(unmapped)} of {len(verdicts) + len(unmapped)} not cleared "
                f"(fail on {fail_on} or worse)",
                err=True,
            )
        sys.exit(1)


# As catalog.repo_ids, but a command line names the repo's own name strictly: it starts with a
# letter or digit.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


def _hub_ids(repo_ids: tuple[str, ...]) -> list[str]:
    """The ids given on the command line, once each; a usage error for one that cannot be a
    Hub repo id (owner/name, or a legacy name without an owner such as gpt2)."""
    from catalog.repo_ids import within_hub_limits

    for repo_id in repo_ids:
        if not (_HUB_ID.fullmatch(repo_id) and within_hub_limits(repo_id)):
            raise click.UsageError(f"not a Hub repo id: {repo_id!r}")
    return list(dict.fromkeys(repo_ids))


def _fetch_missing(model_ids: list[str], dataset_ids: list[str]) -> None:
    """Fetch models and datasets the catalog lacks (and the models' lineage) when the Hub
    answers; else say so."""
    from api.app import settings
    from api.database import engine
    from ingest.errors import HubUnreachable
    from ingest.hub import Crawler, CrawlOptions, hub_reachable

    hub = settings().hub
    if not hub_reachable(hub.endpoint):
        click.echo("The Hub cannot be reached: judging with what the catalog holds.", err=True)
        return
    try:
        Crawler(engine(), CrawlOptions(hub=hub, timeout=10.0)).fetch_repos(model_ids, dataset_ids)
    except HubUnreachable as exc:
        click.echo(f"{exc}: judging with what the catalog holds.", err=True)


def report_json(report: dict[str, object], indent: str = "") -> str:
    """`report` as JSON with each key, and each item of a list, on a line of its own.

    As easy to read and to diff as json.dumps(indent=2) for a report of many findings, and about
    six times faster on a large one: `indent=` makes json use its Python encoder, while each line
    here is written by the C one. Dicts nest; other values are written on their key's line.
    """
    inner = indent + "  "
    lines = []
    for key, value in report.items():
        if isinstance(value, dict) and value:
            text = report_json(value, inner)
        elif isinstance(value, list) and value:
            items = f",\n{inner}  ".join(json.dumps(item) for item in value)
            text = f"[\n{inner}  {items}\n{inner}]"
        else:
            text = json.dumps(value)
        lines.append(f"{inner}{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + f"\n{indent}}}" if lines else "{}"


def _echo_scan(scan: ScanResult, output_format: str) -> None:
    if output_format == "json":
        click.echo(report_json(scan.to_dict()))
        return
    for finding in scan.findings:
        click.echo(f"{finding.where:<50} {finding.kind:<8} {finding.repo_id:<45} {finding.how}")
    skipped = ", ".join(f"{reason} {count}" for reason, count in scan.skipped_counts().items())
    click.echo(
        f"{scan.files} files: {len(scan.repo_ids('model'))} models, "
        f"{len(scan.repo_ids('dataset'))} datasets; skipped: {skipped or 'none'}",
        err=True,
    )
    for path, why in scan.unreadable:
        click.echo(f"{path}: not read: {why}", err=True)


# Without the app context FlaskGroup gives every command: --check asks for it (_with_app).
@main.command(with_appcontext=False)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "sarif", "junit"]),
    default="table",
    show_default=True,
    help="sarif and junit need --check.",
)
@click.option(
    "--check",
    "judge",
    is_flag=True,
    help="Judge the models and datasets found; exit as `check` does.",
)
@USE_OPTION
@POLICY_OPTION
@FAIL_ON_OPTION
@click.option(
    "--fetch/--no-fetch",
    default=True,
    show_default=True,
    help="With --check: fetch models and datasets the catalog lacks, and the models' lineage, from HF_ENDPOINT.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    help="Worker processes for large trees (default: one per CPU).",
)
@click.option(
    "--cache",
    "cache_file",
    type=click.Path(dir_okay=False),
    help="Keep per-file results in this file; a later scan reads only files that changed.",
)
def scan(
    paths: tuple[str, ...],
    output_format: str,
    judge: bool,
    use: str,
    policy_name: str,
    fail_on: str,
    fetch: bool,
    jobs: int | None,
    cache_file: str | None,
) -> None:
    """Find the Hub models and datasets a code base loads (Python, notebooks, YAML/JSON/TOML configs).

    Skips .venv, node_modules, build folders and what .gitignore excludes. Local paths, names
    without an owner and values known only at run time are counted as skipped, not judged.
    """
    from ingest.scan import default_jobs, scan_paths
    from ingest.scan_cache import ScanCache

    if output_format in ("sarif", "junit") and not judge:
        raise click.UsageError(f"--format {output_format} needs --check")
    if cache_file and os.path.lexists(cache_file) and not os.path.isfile(cache_file):
        raise click.UsageError(f"--cache {cache_file}: not a regular file")
    cache = ScanCache(cache_file) if cache_file else None
    result = scan_paths(paths, jobs=jobs or default_jobs(), cache=cache)
    if cache is not None:
        try:
            cache.save()
        except OSError as exc:
            click.echo(f"cannot write the cache {cache_file}: {exc.strerror}", err=True)
    if not judge:
        _echo_scan(result, output_format)
        return
    from api.ci_reports import sarif_report
    from catalog.compliance_checks import failing

    _with_app()
    _policy(policy_name)  # a bad policy is a usage error before anything is fetched
    model_ids, dataset_ids = result.repo_ids("model"), result.repo_ids("dataset")
    _require_catalog()
    if fetch and (model_ids or dataset_ids):
        _fetch_missing(model_ids, dataset_ids)
    verdicts = _verdicts(model_ids, use, policy_name, fail_on=fail_on) if model_ids else []
    verdicts += _dataset_verdicts(dataset_ids, use, policy_name, fail_on=fail_on)
    if output_format == "sarif":
        click.echo(sarif_report(result, verdicts, fail_on))
    elif output_format == "json":
        click.echo(report_json({"scan": result.to_dict(), "verdicts": verdicts}))
    else:
        if output_format == "table":
            _echo_scan(result, "table")
        _echo_verdicts(verdicts, output_format, fail_on)
    if failing(verdicts, fail_on):
        sys.exit(1)


def _with_app() -> None:
    """Push an app's context for the rest of the command, as with_appcontext does: the app the
    caller gave (app.test_cli_runner(), an embedding program), else one without routes
    (create_app's `routes`), since a command that judges serves nothing."""
    from flask import current_app
    from flask.cli import ScriptInfo

    if current_app:
        return
    context = click.get_current_context()
    info = context.find_object(ScriptInfo)
    if info is not None and info.create_app is not _create_app:
        app = info.load_app()
    else:
        app = _create_app(routes=False)
    context.with_resource(app.app_context())


@main.command()
@click.argument("repo_ids", nargs=-1)
@click.option(
    "--from-scan",
    "scan_paths_",
    multiple=True,
    type=click.Path(exists=True),
    help="Add the models a scan of this path finds (repeatable).",
)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
@USE_OPTION
@POLICY_OPTION
def bom(
    repo_ids: tuple[str, ...],
    scan_paths_: tuple[str, ...],
    output: TextIO,
    use: str,
    policy_name: str,
) -> None:
    """Write a CycloneDX 1.6 ML-BOM (JSON) of models: licenses, lineage, datasets and verdicts."""
    from api.database import new_session
    from catalog.bom import BomRequest, bom_json, build_bom
    from ingest.scan import scan_paths

    ids = _hub_ids(repo_ids)
    found_in: dict[str, list[str]] = {}
    if scan_paths_:
        for finding in scan_paths(scan_paths_).findings:
            if finding.kind == "model":
                found_in.setdefault(finding.repo_id, []).append(finding.where)
        ids += [i for i in found_in if i not in ids]
    if not ids:
        raise click.UsageError("no models: give REPO_IDs or a --from-scan path that loads some")
    request = BomRequest(ids, use, _policy(policy_name), found_in)
    _require_catalog()
    with new_session() as session:
        output.write(bom_json(build_bom(session, request)) + "\n")


@main.group()
def demo() -> None:
    """Quantized CTranslate2 demos of catalog models (int8 on CPU, int8_float16 on CUDA)."""


def _demo_model(repo_id: str, gguf: str | None) -> tuple[DemoManager, LoadedModel]:
    """Build (or take from the cache) a demo of a catalog model, with a progress bar; exit 1 on failure."""
    from api.app import settings
    from api.database import new_session
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
    from catalog.licenses import knowledge_base

    for entry in sorted(knowledge_base().licenses.values(), key=lambda e: e.id):
        if category is None or entry.category == category:
            click.echo(f"{entry.id:<40} {entry.category:<15} {entry.name}")


@licenses.command("show")
@click.argument("license_id")
def licenses_show(license_id: str) -> None:
    """Show one license: terms and sources."""
    from catalog.errors import LicenseNotFound
    from catalog.licenses import knowledge_base

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


def run() -> None:
    """The `modelcatalog` command, as the console script and `python -m api.cli` start it."""
    try:
        main()
    finally:
        # The process ends with the command. The collections the interpreter runs as it exits
        # would walk every object still held, though exiting frees them all: on a large scan,
        # about a tenth of the command's time. Frozen, they are freed without those walks.
        gc.freeze()


if __name__ == "__main__":
    run()
