"""/api/v1/models and compliance: search with facets, model detail, verdicts."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE

from api.answer_cache import versioned_answer
from api.database import db
from api.schemas import (
    BomComplianceArgs,
    BomVerdictsSchema,
    ComplianceArgs,
    ComplianceBody,
    CycloneDxBomBody,
    GateArgs,
    ModelDetailSchema,
    ModelPageSchema,
    ModelQueryArgs,
    VerdictListSchema,
    VerdictSchema,
    summary_document,
)
from api.security_headers import external_url
from catalog.bom import BomRequest, bom_json, build_bom
from catalog.bom_read import bom_models, parse_bom
from catalog.compliance_checks import failing, verdict_documents
from catalog.policies import load_policy
from catalog.queries import get_model, model_detail
from catalog.search import ModelQuery, search_models

blp = Blueprint(
    "models",
    __name__,
    url_prefix="/api/v1",
    description="Models: search, detail, compliance verdicts.",
)


def model_query(args: dict[str, Any]) -> ModelQuery:
    """Query arguments (already validated) as a catalog query."""
    return ModelQuery(
        q=args.get("q"),
        licenses=tuple(args["license"]),
        license_category=tuple(args["license_category"]),
        commercial=args.get("commercial"),
        policy=args["policy"],
        task=tuple(args["task"]),
        library=tuple(args["library"]),
        language=tuple(args["language"]),
        author=args.get("author"),
        base_model=args.get("base_model"),
        dataset=args.get("dataset"),
        gated=args.get("gated"),
        sort=args["sort"],
        order=args["order"],
        page=args["page"],
        per_page=args["per_page"],
    )


def _page_link(page: int) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "page"] + [
        ("page", str(page))
    ]
    return external_url(f"{request.path}?{urlencode(params)}")


@blp.route("/models")
class Models(MethodView):
    @blp.arguments(ModelQueryArgs(), location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, ModelPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Search models: filters, full text, sort, pages and facet counts."""
        query = model_query(args)

        def page() -> dict[str, Any]:
            result = search_models(db(), query)
            return {  # ModelPageSchema's document (the schema documents it; tests hold them equal)
                "items": [summary_document(row) for row in result.items],
                "total": result.total,
                "page": query.page,
                "per_page": query.per_page,
                "pages": max(1, math.ceil(result.total / query.per_page)),
                "facets": result.facets,
            }

        answer = versioned_answer(page)
        headers = _page_links(query, answer.total or 0)
        return Response(answer.body, mimetype="application/json", headers=headers)


def _page_links(query: ModelQuery, total: int) -> dict[str, str]:
    pages = max(1, math.ceil(total / query.per_page))
    links = []
    if query.page < pages:
        links.append(f'<{_page_link(query.page + 1)}>; rel="next"')
    if query.page > 1:
        links.append(f'<{_page_link(query.page - 1)}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


@blp.route("/models/<path:repo_id>/compliance")
class ModelCompliance(MethodView):
    @blp.arguments(ComplianceArgs(), location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, VerdictSchema)
    def get(self, args: dict[str, Any], repo_id: str) -> Any:
        """The verdict for one model and a use, with reasons, obligations and conflicts."""
        get_model(db(), repo_id)
        policy = load_policy(args["policy"])
        scope = args.get("scope")
        return verdict_documents(db(), [repo_id], use=args["use"], policy=policy, scope=scope)[0]


BOM_MIMETYPE = "application/vnd.cyclonedx+json"


@blp.route("/models/<path:repo_id>/bom")
class ModelBom(MethodView):
    @blp.arguments(ComplianceArgs(), location="query", as_kwargs=False, unknown=RAISE)
    @blp.response(200, content_type=BOM_MIMETYPE, description="A CycloneDX 1.6 JSON ML-BOM.")
    def get(self, args: dict[str, Any], repo_id: str) -> Any:
        """A CycloneDX 1.6 ML-BOM of the model: licenses, base models, datasets and its verdict."""
        get_model(db(), repo_id)
        request_ = BomRequest([repo_id], args["use"], load_policy(args["policy"]))
        body = bom_json(build_bom(db(), request_))
        return Response(body, content_type=f"{BOM_MIMETYPE}; version=1.6")


@blp.route("/models/<path:repo_id>")
class ModelDetail(MethodView):
    @blp.response(200, ModelDetailSchema)
    def get(self, repo_id: str) -> Any:
        """One model: declared and effective license, lineage, datasets, card fields, license history."""
        return model_detail(db(), repo_id)


@blp.route("/compliance")
class Compliance(MethodView):
    @blp.arguments(GateArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.arguments(ComplianceBody, as_kwargs=False)
    @blp.response(200, VerdictListSchema)
    def post(self, gate: dict[str, Any], body: dict[str, Any]) -> Any:
        """Verdicts for several models at once (at most 500), and whether they pass a gate.

        Unknown ids come back as `unknown`. `?fail_on=conditional` makes the gate fail on any
        verdict with obligations; the default fails on `unknown` and `forbidden`."""
        if len(body["models"]) > current_app.config["COMPLIANCE_BATCH_LIMIT"]:
            abort(
                422,
                message=f"at most {current_app.config['COMPLIANCE_BATCH_LIMIT']} models per request",
            )
        verdicts = verdict_documents(
            db(),
            body["models"],
            use=body["use"],
            policy=load_policy(body["policy"]),
            scope=body.get("scope"),
            fail_on=gate["fail_on"],
        )
        stopped = failing(verdicts, gate["fail_on"])
        answer = {
            "results": verdicts,
            "gate": {"fail_on": gate["fail_on"], "passed": not stopped, "failing": stopped},
        }
        # The engine's documents are VerdictListSchema's already (a test holds the schema's dump
        # of every answer equal to it): written as they are, a batch costs half as much.
        return Response(current_app.json.dumps(answer), mimetype="application/json")


@blp.before_request
def _room_for_boms() -> None:
    # Inventories from other tools run larger than the other bodies this API reads.
    if request.endpoint == "models.ComplianceBom":
        request.max_content_length = current_app.config["BOM_MAX_BYTES"]


XML_BOM_MIMETYPES = ("application/vnd.cyclonedx+xml", "application/xml", "text/xml")
# What the reader takes from an XML BOM (catalog.bom_read), in OpenAPI's XML terms.
_XML_COMPONENT = {
    "type": "object",
    "xml": {"name": "component"},
    "properties": {
        "type": {"type": "string", "xml": {"attribute": True}},
        "bom-ref": {"type": "string", "xml": {"attribute": True}},
        "group": {"type": "string"},
        "name": {"type": "string"},
        "purl": {"type": "string"},
    },
}
_XML_BOM = {
    "schema": {
        "type": "object",
        "description": "A CycloneDX XML BOM, in any version's namespace; no DTD is accepted. "
        "Model components are matched by pkg:huggingface purl, else by name.",
        "xml": {"name": "bom", "namespace": "http://cyclonedx.org/schema/bom/1.6"},
        "properties": {
            "components": {"type": "array", "xml": {"wrapped": True}, "items": _XML_COMPONENT}
        },
    }
}
BOM_REQUEST_BODY = {
    "required": True,
    "description": "A CycloneDX BOM from any tool: JSON, or XML sent with an XML Content-Type. "
    "An XML BOM that declares a DTD or entities is refused (400).",
    "content": {
        "application/json": {"schema": CycloneDxBomBody},
        "application/vnd.cyclonedx+json": {"schema": CycloneDxBomBody},
        **dict.fromkeys(XML_BOM_MIMETYPES, _XML_BOM),
    },
}


def _posted_bom() -> dict[str, Any]:
    """The posted BOM: read as XML when its Content-Type says so, as JSON when it says JSON."""
    if request.mimetype in XML_BOM_MIMETYPES:
        return parse_bom(request.get_data(), "xml")
    if not request.is_json:
        accepted = ", ".join(
            ("application/json", "application/vnd.cyclonedx+json", *XML_BOM_MIMETYPES)
        )
        abort(415, message=f"send the BOM with a Content-Type of {accepted}")
    # What @blp.arguments does for a JSON body, with its 422 problem for a bad one.
    bom: dict[str, Any] = blp.ARGUMENTS_PARSER.parse(CycloneDxBomBody(), request, location="json")
    return bom


@blp.route("/compliance/bom")
class ComplianceBom(MethodView):
    @blp.arguments(BomComplianceArgs, location="query", as_kwargs=False, unknown=RAISE)
    @blp.doc(requestBody=BOM_REQUEST_BODY)
    @blp.response(200, BomVerdictsSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Verdicts for every model component of a CycloneDX BOM (JSON or XML), and whether they pass a gate.

        Model components that map to no Hub repo id are listed under `unmapped` and fail the gate;
        a BOM without model components does not pass it either (`gate.reason` says why)."""
        found = bom_models(_posted_bom())
        limit = current_app.config["COMPLIANCE_BATCH_LIMIT"]
        if len(found.repo_ids) > limit:
            abort(422, message=f"at most {limit} models per BOM")
        results = verdict_documents(
            db(),
            found.repo_ids,
            use=args["use"],
            policy=load_policy(args["policy"]),
            fail_on=args["fail_on"],
        )
        stopped = failing(results, args["fail_on"])
        gate = {
            "fail_on": args["fail_on"],
            "passed": bool(found.repo_ids) and not stopped and not found.unmapped,
            "failing": stopped,
        }
        if not found.repo_ids and not found.unmapped:
            # A gate over nothing must not pass by saying nothing (check --bom: a usage error).
            gate["reason"] = "the BOM lists no model components (type machine-learning-model)"
        return {"results": results, "unmapped": found.unmapped, "gate": gate}
