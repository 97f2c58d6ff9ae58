"""Every catalog and demo error answers with its own status: problem+json on API routes, the error
page on HTML routes (never a 500 for a request the catalog refuses)."""

from __future__ import annotations

import pytest
from flask import Flask

from catalog import errors as catalog_errors
from demo_runner import errors as demo_errors

EXAMPLES: list[Exception] = [
    catalog_errors.ModelNotFound("nobody/nothing"),
    catalog_errors.DatasetNotFound("nobody/data"),
    catalog_errors.LicenseNotFound("no-license"),
    catalog_errors.KnowledgeBaseError("licenses.yaml: entry 3 has no category"),
    catalog_errors.PolicyError("no policy named 'lenient'"),
    catalog_errors.UnknownUse("sell", ["commercial", "research"]),
    catalog_errors.BomError("not an XML document"),
    catalog_errors.NotCycloneDx("not a CycloneDX BOM"),
    catalog_errors.CatalogError("a catalog error of no subclass"),
    catalog_errors.UserNotFound("nobody"),
    catalog_errors.UserExists("rita"),
    catalog_errors.InvalidRecord("expires must be in the future"),
    catalog_errors.RecordNotFound("no review 7"),
    demo_errors.UnsupportedArchitecture("mamba", "state/spaces"),
    demo_errors.TooLarge("too large for this machine"),
    demo_errors.RemoteCodeRefused("needs its own code"),
    demo_errors.NeedsLogin("gated: log in"),
    demo_errors.NeedsTermsAccepted("gated: accept the terms"),
    demo_errors.HubUnreachable("the Hub cannot be reached"),
    demo_errors.NotOnHub("not found on the Hub"),
    demo_errors.ConversionFailed("conversion failed"),
    demo_errors.BadGenerationRequest("bad request"),
    demo_errors.BuildCancelled("deleted while it was built"),
    demo_errors.DemoBusy("too many builds waiting", retry_after=30),
    demo_errors.PromptTooLong(600, 100, 512),
    demo_errors.GenerationTimedOut("took too long"),
    demo_errors.DemoCacheUnwritable("the demo cache cannot be written"),
    demo_errors.DemoBackendUnavailable("the Ray cluster cannot be reached"),
    demo_errors.ReplicaLost("the replica stopped mid-answer"),
    demo_errors.ModelNotConverted("no longer in the cache"),
    demo_errors.RemoteDemoError("took too long on the replica", 504, "GenerationTimedOut"),
    demo_errors.DemoError("a demo error of no subclass"),
]
EXPECTED_STATUS = {
    "ModelNotFound": 404,
    "DatasetNotFound": 404,
    "LicenseNotFound": 404,
    "KnowledgeBaseError": 500,
    "PolicyError": 400,
    "UnknownUse": 400,
    "BomError": 400,
    "NotCycloneDx": 422,
    "CatalogError": 400,
    "UserNotFound": 404,
    "UserExists": 409,
    "InvalidRecord": 422,
    "RecordNotFound": 404,
    "NeedsLogin": 401,
    "NeedsTermsAccepted": 403,
    "HubUnreachable": 503,
    "NotOnHub": 404,
    "BuildCancelled": 410,
    "DemoBusy": 429,
    "GenerationTimedOut": 504,
    "DemoCacheUnwritable": 503,
    "DemoBackendUnavailable": 503,
    "ReplicaLost": 503,
    "ModelNotConverted": 409,
    "RemoteDemoError": 504,  # the status the replica's error had there
}


def _all_subclasses(cls: type) -> set[type]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _all_subclasses(sub)
    return found


def test_the_examples_cover_every_error_class() -> None:
    classes = _all_subclasses(catalog_errors.CatalogError) | _all_subclasses(demo_errors.DemoError)
    assert classes == {type(e) for e in EXAMPLES}


@pytest.fixture
def raising_app(app: Flask) -> Flask:
    """The real app with two more routes that raise the error named in the URL."""
    by_name = {type(e).__name__: e for e in EXAMPLES}

    def raise_it(name: str) -> str:
        raise by_name[name]

    app.add_url_rule("/api/v1/raise/<name>", "raise_api", raise_it)
    app.add_url_rule("/raise/<name>", "raise_page", raise_it)
    return app


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_api_route_answers_a_problem_with_the_errors_status(
    raising_app: Flask, error: Exception
) -> None:
    name = type(error).__name__
    status = EXPECTED_STATUS.get(name, 422)
    response = raising_app.test_client().get(f"/api/v1/raise/{name}")
    assert response.status_code == status == error.status
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status and response.json["detail"] == str(error)


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_html_route_answers_the_error_page_with_the_errors_status(
    raising_app: Flask, error: Exception
) -> None:
    name = type(error).__name__
    status = EXPECTED_STATUS.get(name, 422)
    response = raising_app.test_client().get(f"/raise/{name}")
    assert response.status_code == status
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert f"<h1>{status} · " in page
    assert str(error).replace("'", "&#39;") in page


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/models/nobody/nothing", 404),
        ("/datasets/nobody/nothing", 404),
        ("/licenses/no-such-license", 404),
        ("/licenses?category=free", 400),
        ("/no/such/page", 404),
    ],
)
def test_real_pages_answer_catalog_errors_with_their_status(client, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status and response.content_type.startswith("text/html")


def test_the_openapi_document_describes_errors_as_problems(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    responses = spec["components"]["responses"]
    assert "DEFAULT_ERROR" in responses and "UNPROCESSABLE_ENTITY" in responses
    for response in responses.values():
        assert response["content"].keys() == {"application/problem+json"}
        schema = response["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) >= {"title", "detail"}
