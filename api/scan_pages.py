"""The scan page: paste a list of repo ids or upload a CycloneDX BOM, get the verdict table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from api.database import db
from catalog.bom_read import bom_models, component_name, parse_bom
from catalog.compliance_checks import verdict_documents
from catalog.errors import CatalogError
from catalog.policies import BUILTIN_POLICIES, USES, load_policy
from ingest.scan import parse_model_list

blp = Blueprint("scan_pages", __name__)


@dataclass
class ScanForm:
    """What the form sent, and what could not be used of it."""

    models_text: str = ""
    use: str = "commercial"
    policy: str = "default"
    errors: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    unmapped: list[dict[str, str | None]] = field(default_factory=list)


def _render(
    form: ScanForm, verdicts: list[dict[str, Any]] | None = None, status: int = 200
) -> tuple[str, int]:
    page = render_template(
        "scan/index.html", form=form, verdicts=verdicts, uses=USES, policies=BUILTIN_POLICIES
    )
    return page, status


MAX_LIST_CHARACTERS = 100_000


def _read_form() -> tuple[ScanForm, list[str]]:
    models_text = request.form.get("models", "")
    form = ScanForm(
        models_text=models_text[:MAX_LIST_CHARACTERS],
        use=request.form.get("use", "commercial"),
        policy=request.form.get("policy", "default"),
    )
    if len(models_text) > MAX_LIST_CHARACTERS:
        # Cut, its last line could name another model: the whole list is refused instead.
        form.errors.append(f"the list is longer than {MAX_LIST_CHARACTERS:,} characters")
        return form, []
    if form.use not in USES:
        form.errors.append(f"unknown use {form.use!r}")
    if form.policy not in BUILTIN_POLICIES:
        form.errors.append(f"unknown policy {form.policy!r}")
    ids, form.rejected = parse_model_list(form.models_text)
    for upload in request.files.getlist("bom"):  # every file chosen, not only the first
        if not upload.filename:
            continue
        try:
            found = bom_models(parse_bom(upload.read()))
        except CatalogError as exc:
            form.errors.append(f"{upload.filename}: {exc}")
        else:
            ids += [i for i in found.repo_ids if i not in ids]
            form.unmapped += found.unmapped
    return form, ids


blp.add_app_template_filter(component_name, "bom_component_name")


@blp.get("/scan")
def scan_page() -> tuple[str, int]:
    return _render(ScanForm())


@blp.before_request
def _room_for_boms() -> None:
    if request.endpoint == "scan_pages.scan_submit":
        request.max_content_length = current_app.config["BOM_MAX_BYTES"]


@blp.post("/scan")
def scan_submit() -> tuple[str, int]:
    form, ids = _read_form()
    limit = current_app.config["COMPLIANCE_BATCH_LIMIT"]
    if len(ids) > limit:
        form.errors.append(f"{len(ids)} models: at most {limit} at once")
    if not ids and not form.unmapped and not form.errors:
        form.errors.append(
            "no models: paste repo ids (owner/name), one a line, or choose a BOM file"
        )
    if form.errors:
        return _render(form, status=400)
    policy = load_policy(form.policy)
    verdicts = verdict_documents(db(), ids, use=form.use, policy=policy)
    return _render(form, verdicts)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
