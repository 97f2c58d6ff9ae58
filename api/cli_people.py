"""CLI commands for people and their records: users, curations, reviews, the audit trail."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

from api.database import new_session
from catalog.audit import event_dict, list_events
from catalog.curations import record_curation
from catalog.errors import CatalogError
from catalog.people import ROLES, create_user, list_users, revoke
from catalog.policies import USES
from catalog.reviews import DECISIONS, record_review


# The CLI acts with the machine's own authority; the audit trail names the operating-system user.
def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group(cls=AppGroup)
def users() -> None:
    """People and machines that use the service: roles and API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option(
    "--password",
    is_flag=True,
    help="Also set a password for the web pages (asked for, not echoed).",
)
def users_add(name: str, role: str, password: bool) -> None:
    """Add a user; print its API token (shown once) alone on the last line."""
    secret = (
        click.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    try:
        with new_session() as session:
            token = create_user(session, name, role=role, by=_actor(), password=secret)
    except CatalogError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Added {name} ({role}). The token is shown once; keep it secret:", err=True)
    click.echo(token)


@users.command("list")
def users_list() -> None:
    """List users, their roles and whether they are revoked."""
    with new_session() as session:
        for user in list_users(session):
            state = f"revoked {user.revoked_at:%Y-%m-%d}" if user.revoked_at else "active"
            click.echo(f"{user.name:<30} {user.role:<10} {state}")


@users.command("revoke")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke a user's token and sign-in (the name stays in the audit trail)."""
    try:
        with new_session() as session:
            revoke(session, name, by=_actor())
    except CatalogError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Revoked {name}.")


def _record(action: Any, **fields: Any) -> Any:
    try:
        with new_session() as session:
            return action(session, by=_actor(), **fields)
    except CatalogError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@with_appcontext
@click.argument("repo")
@click.option("--dataset", "is_dataset", is_flag=True, help="REPO is a dataset, not a model.")
@click.option("--license", "license_id", help="The license it really has (a knowledge-base id).")
@click.option("--base-model", "base_models", multiple=True, help="Its real base model; repeatable.")
@click.option(
    "--trained-on", "datasets", multiple=True, help="A real training dataset; repeatable."
)
@click.option("--model-generated", help="The model that generated this dataset ('false': none).")
@click.option("--source", required=True, help="Where this is shown: a URL or file@commit.")
@click.option("--comment", required=True, help="Why, in a sentence.")
def curate(repo, is_dataset, license_id, base_models, datasets, model_generated, source, comment):
    """Correct a repo's facts; the engine uses the curated value and every verdict shows it."""
    given = {
        "license": license_id,
        "base_models": list(base_models) or None,
        "datasets": list(datasets) or None,
        "model_generated": None
        if model_generated is None
        else model_generated != "false" and model_generated,
    }
    chosen = {field: value for field, value in given.items() if value is not None}
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --license, --base-model, --trained-on, --model-generated"
        )
    ((field, value),) = chosen.items()
    kind = "dataset" if is_dataset else "model"
    curation = _record(
        record_curation,
        repo=repo,
        kind=kind,
        field=field,
        value=value,
        source=source,
        comment=comment,
    )
    click.echo(json.dumps(curation))


@click.group(cls=AppGroup)
def review() -> None:
    """Human decisions on verdicts."""


@review.command("add")
@click.argument("repo")
@click.option("--use", type=click.Choice(USES), required=True)
@click.option("--decision", type=click.Choice(DECISIONS), required=True)
@click.option("--comment", required=True)
@click.option("--expires", type=click.DateTime(), help="When the decision stops counting.")
@click.option("--ticket", help="A ticket reference (legal, procurement).")
@click.option("--scope", help="A project or team the decision is for.")
def review_add(repo, use, decision, comment, expires, ticket, scope):
    """Record a decision on REPO's verdict for a use."""
    made = _record(
        record_review,
        model=repo,
        use=use,
        decision=decision,
        comment=comment,
        expires=expires,
        ticket=ticket,
        scope=scope,
    )
    click.echo(json.dumps(made))


@click.group(cls=AppGroup)
def audit() -> None:
    """The append-only audit trail of every write."""


@audit.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"))
@click.option("--since", type=click.DateTime(), help="Only events at or after this time (UTC).")
def audit_export(file: Any, since: datetime | None) -> None:
    """Write audit events as JSON lines."""
    count = 0
    with new_session() as session:
        for event in list_events(session, since=since):
            file.write(json.dumps(event_dict(event)) + "\n")
            count += 1
    click.echo(f"Exported {count} audit events.", err=True)


@click.group(cls=AppGroup)
def webhooks() -> None:
    """Signed notifications to admin-configured URLs."""


@webhooks.command("deliver")
def webhooks_deliver() -> None:
    """Send the deliveries that are due now (serve also sends them every few seconds)."""
    from catalog.webhooks import deliver_due

    with new_session() as session:
        count = deliver_due(session)
    click.echo(f"Attempted {count} deliveries.")
