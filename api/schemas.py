"""The wire format: marshmallow schemas for query arguments, bodies and answers (and the OpenAPI document)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate

from catalog.compliance_checks import DEFAULT_FAIL_ON, FAIL_ON
from catalog.licenses import CATEGORIES
from catalog.policies import BUILTIN_POLICIES, USES
from catalog.search import SORTS

PER_PAGE_MAX = 100
BATCH_MAX = 500
FACET_VALUES_MAX = 50


class StrictInteger(fields.Integer):
    """An integer written in ASCII digits, or a JSON integer; never a float, bool or Unicode digit.

    `int()` accepts "²", "٣", " 7 " and "1_000", and marshmallow's Integer accepts 7.0 and true:
    none of them is what a client meant by a page number or a token count.
    """

    default_error_messages = {"invalid": "Not a valid integer (ASCII digits only)."}
    _DIGITS = re.compile(r"-?[0-9]{1,18}")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        if isinstance(value, str):
            if not self._DIGITS.fullmatch(value):
                raise self.make_error("invalid")
            value = int(value)
        if abs(value) >= 10**18:
            raise ValidationError("Number too large.")
        return value


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- query arguments -------------------------------------------------------------------
class PageArgs(StrictSchema):
    page = StrictInteger(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = StrictInteger(load_default=20, validate=validate.Range(min=1, max=PER_PAGE_MAX))


def _any_of(length: int) -> fields.List:
    """A repeatable facet filter: a model matches if it has any of the values."""
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=length)),
        load_default=list,
        validate=validate.Length(max=FACET_VALUES_MAX),
        metadata={"description": f"Repeatable (at most {FACET_VALUES_MAX}); any of these."},
    )


class ModelQueryArgs(PageArgs):
    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Full text over id, author, tags and card summary."},
    )
    license = _any_of(100)
    license_category = fields.List(
        fields.String(validate=validate.OneOf(CATEGORIES)),
        load_default=list,
        validate=validate.Length(max=FACET_VALUES_MAX),
        metadata={"description": "Repeatable; any of these."},
    )
    commercial = fields.Boolean(
        metadata={"description": "true: cleared for commercial use after lineage, under `policy`."}
    )
    policy = fields.String(load_default="default", validate=validate.OneOf(BUILTIN_POLICIES))
    task = _any_of(100)
    library = _any_of(100)
    language = _any_of(50)
    author = fields.String(validate=validate.Length(max=100))
    base_model = fields.String(validate=validate.Length(max=200))
    dataset = fields.String(validate=validate.Length(max=200))
    gated = fields.Boolean()
    sort = fields.String(load_default="downloads", validate=validate.OneOf(list(SORTS)))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class ComplianceArgs(StrictSchema):
    use = fields.String(load_default="commercial", validate=validate.OneOf(USES))
    policy = fields.String(load_default="default", validate=validate.OneOf(BUILTIN_POLICIES))
    scope = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A project or team: its own reviews count before unscoped ones."},
    )


class ComplianceBody(StrictSchema):
    models = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=BATCH_MAX),
        metadata={"description": f"Repo ids, at most {BATCH_MAX}."},
    )
    use = fields.String(load_default="commercial", validate=validate.OneOf(USES))
    policy = fields.String(load_default="default", validate=validate.OneOf(BUILTIN_POLICIES))
    scope = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A project or team: its own reviews count before unscoped ones."},
    )


class CycloneDxBomBody(Schema):
    """A CycloneDX JSON BOM from any tool: only what is needed to find its models is checked."""

    class Meta:
        unknown = INCLUDE

    bomFormat = fields.String(required=True, validate=validate.Equal("CycloneDX"))
    specVersion = fields.String()
    components = fields.List(
        fields.Dict(),
        load_default=list,
        metadata={
            "description": "Model components are matched by pkg:huggingface purl, else by name."
        },
    )


class GateArgs(StrictSchema):
    fail_on = fields.String(
        load_default=DEFAULT_FAIL_ON,
        validate=validate.OneOf(FAIL_ON),
        metadata={
            "description": "The least verdict that fails the gate: conditional, unknown (default) or forbidden."
        },
    )


class BomComplianceArgs(ComplianceArgs, GateArgs):
    """Query arguments of POST /compliance/bom: the use, the policy and the gate."""


class LicenseQueryArgs(StrictSchema):
    category = fields.String(validate=validate.OneOf(CATEGORIES))


class DatasetQueryArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=200))
    license = fields.String(validate=validate.Length(max=100))


# --- answers ---------------------------------------------------------------------------
class ModelSummarySchema(Schema):
    id = fields.String()
    author = fields.String(allow_none=True)
    pipeline_tag = fields.String(allow_none=True)
    library_name = fields.String(allow_none=True)
    declared_license = fields.String(allow_none=True)
    license_ids = fields.List(fields.String())
    license_category = fields.String(allow_none=True)
    downloads = fields.Integer()
    likes = fields.Integer()
    gated = fields.String(allow_none=True)
    last_modified = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(allow_none=True)


def summary_document(row: dict[str, Any]) -> dict[str, Any]:
    """A search result row as ModelSummarySchema dumps it, without the per-field work of the schema
    (a page of results is the hottest answer the service gives); a test holds the two equal."""
    document = dict(row)
    for name in ("last_modified", "created_at"):
        value = row[name]
        document[name] = value.isoformat() if value is not None else None
    return document


class ModelPageSchema(Schema):
    items = fields.List(fields.Nested(ModelSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    facets = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
    )


class SourceSchema(Schema):
    kind = fields.String()
    id = fields.String()
    license = fields.String()
    relation = fields.String()
    model = fields.String()
    # Curated inputs: which curation, by whom, when, and whether the Hub changed since.
    field = fields.String()
    curation = fields.Integer()
    by = fields.String()
    at = fields.String()
    stale = fields.Boolean()


class ReasonSchema(Schema):
    code = fields.String()
    severity = fields.String()
    text = fields.String()
    source = fields.Nested(SourceSchema)


class ObligationSchema(Schema):
    code = fields.String()
    text = fields.String()
    threshold = fields.Integer(
        metadata={"description": "Monthly active users or USD annual revenue."}
    )
    region = fields.String(
        metadata={"description": "Where the rights are withheld (region-restriction)."}
    )
    clause = fields.String(
        metadata={"description": "The clause of the license the obligation rests on."}
    )
    source = fields.Nested(SourceSchema)


class ConflictSchema(Schema):
    model = fields.String()
    declared = fields.List(fields.String())
    ancestor = fields.String()
    ancestor_license = fields.List(fields.String())
    relation = fields.String(allow_none=True)
    path = fields.List(
        fields.String(), metadata={"description": "Repo ids from the model to the ancestor."}
    )
    relations = fields.List(fields.String(), metadata={"description": "The relation of each step."})
    text = fields.String()


class EffectiveLicenseSchema(Schema):
    ids = fields.List(fields.String())
    category = fields.String()


class VerdictSchema(Schema):
    model = fields.String()
    use = fields.String()
    policy = fields.String()
    verdict = fields.String(
        validate=validate.OneOf(["allowed", "conditional", "forbidden", "unknown"])
    )
    declared_license = fields.String(allow_none=True)
    effective_license = fields.Nested(EffectiveLicenseSchema)
    reasons = fields.List(fields.Nested(ReasonSchema))
    obligations = fields.List(fields.Nested(ObligationSchema))
    conflicts = fields.List(fields.Nested(ConflictSchema))
    checked_at = fields.String()
    review = fields.Nested(
        "ReviewSchema",
        allow_none=True,
        metadata={"description": "The newest review of this model and use, and whether it counts."},
    )
    gate = fields.Nested("VerdictGateSchema")


class VerdictGateSchema(Schema):
    passes = fields.Boolean(metadata={"description": "What `check` and CI gates decide."})
    why = fields.String()


class ReviewSchema(Schema):
    id = fields.Integer()
    model = fields.String()
    use = fields.String()
    decision = fields.String()
    by = fields.String()
    at = fields.String()
    expires = fields.String(allow_none=True)
    comment = fields.String()
    ticket = fields.String(allow_none=True)
    scope = fields.String(allow_none=True)
    license_ids = fields.List(fields.String(), allow_none=True)
    counts = fields.Boolean()
    status = fields.String()


class GateSchema(Schema):
    fail_on = fields.String()
    passed = fields.Boolean()
    failing = fields.List(fields.String(), metadata={"description": "Models at fail_on or worse."})
    reason = fields.String(
        metadata={"description": "Why a gate that no verdict failed did not pass, if so."}
    )


class VerdictListSchema(Schema):
    results = fields.List(fields.Nested(VerdictSchema))
    gate = fields.Nested(GateSchema)


class UnmappedComponentSchema(Schema):
    name = fields.String(allow_none=True)
    purl = fields.String(allow_none=True)
    bom_ref = fields.String(allow_none=True, attribute="bom-ref", data_key="bom-ref")


class BomVerdictsSchema(VerdictListSchema):
    unmapped = fields.List(
        fields.Nested(UnmappedComponentSchema),
        metadata={"description": "Model components that map to no Hub repo id: not cleared."},
    )


class LineageNodeSchema(Schema):
    id = fields.String()
    kind = fields.String()
    license_ids = fields.List(fields.String())
    category = fields.String()
    present = fields.Boolean()


class LineageEdgeSchema(Schema):
    source = fields.String(metadata={"description": "The derived model."})
    target = fields.String(metadata={"description": "The base model or dataset."})
    relation = fields.String()


class LineageSchema(Schema):
    nodes = fields.List(fields.Nested(LineageNodeSchema))
    edges = fields.List(fields.Nested(LineageEdgeSchema))


class ObservationSchema(Schema):
    sha = fields.String(allow_none=True)
    declared_license = fields.String(allow_none=True)
    license_ids = fields.List(fields.String(), allow_none=True)
    first_seen = fields.DateTime()
    last_seen = fields.DateTime()


class ModelDetailSchema(ModelSummarySchema):
    sha = fields.String(allow_none=True)
    license_name = fields.String(allow_none=True)
    license_link = fields.String(allow_none=True)
    languages = fields.List(fields.String(), allow_none=True)
    tags = fields.List(fields.String(), allow_none=True)
    card_data = fields.Dict(allow_none=True)
    card_errors = fields.List(fields.String(), allow_none=True)
    disabled = fields.Boolean()
    effective_license = fields.Nested(EffectiveLicenseSchema)
    base_models = fields.List(fields.Dict())
    datasets = fields.List(fields.String())
    lineage = fields.Nested(LineageSchema)
    license_history = fields.List(fields.Nested(ObservationSchema))
    hub_url = fields.String()


class TermSchema(Schema):
    code = fields.String()
    text = fields.String()
    clause = fields.String(allow_none=True)
    threshold = fields.Integer(allow_none=True)
    region = fields.String(allow_none=True)
    uses = fields.List(fields.String(), allow_none=True)


class UnclearSchema(Schema):
    text = fields.String()
    uses = fields.List(fields.String())


class LicenseSchema(Schema):
    id = fields.String()
    name = fields.String()
    category = fields.String()
    spdx = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    source = fields.String()
    hub = fields.Boolean()
    model_count = fields.Integer()


class LicenseDetailSchema(LicenseSchema):
    permissions = fields.List(fields.Nested(TermSchema))
    conditions = fields.List(fields.Nested(TermSchema))
    limitations = fields.List(fields.Nested(TermSchema))
    basis = fields.String(allow_none=True)
    derivatives = fields.String(
        metadata={
            "description": "How derivatives may be licensed: any, same, or carry (the listed terms)."
        }
    )
    carry = fields.List(fields.String())
    names = fields.List(
        fields.String(), metadata={"description": "license_name values recognised."}
    )
    links = fields.List(
        fields.String(), metadata={"description": "license_link values recognised."}
    )
    unclear = fields.Nested(UnclearSchema, allow_none=True)
    note = fields.String(allow_none=True)
    differs = fields.String(allow_none=True)
    scancode = fields.String(allow_none=True)
    dpi = fields.String(allow_none=True)
    models = fields.List(fields.Nested(ModelSummarySchema))


class LicenseListSchema(Schema):
    items = fields.List(fields.Nested(LicenseSchema))
    total = fields.Integer()


class DatasetSchema(Schema):
    id = fields.String()
    author = fields.String(allow_none=True)
    declared_license = fields.String(allow_none=True)
    license_ids = fields.List(fields.String(), allow_none=True)
    license_category = fields.String(allow_none=True)
    languages = fields.List(fields.String(), allow_none=True)
    task_categories = fields.List(fields.String(), allow_none=True)
    gated = fields.String(allow_none=True)
    missing = fields.Boolean()


class DatasetDetailSchema(DatasetSchema):
    tags = fields.List(fields.String(), allow_none=True)
    card_data = fields.Dict(allow_none=True)
    card_errors = fields.List(fields.String(), allow_none=True)
    model_generated_by = fields.String(allow_none=True)
    model_generated_how = fields.String(
        allow_none=True, metadata={"description": "How it was recognised as model-generated."}
    )
    models = fields.List(
        fields.String(), metadata={"description": "Models trained on it (first 100)."}
    )


class DatasetPageSchema(Schema):
    items = fields.List(fields.Nested(DatasetSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class TaskSchema(Schema):
    id = fields.String()
    name = fields.String()
    model_count = fields.Integer()


class TaskListSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
