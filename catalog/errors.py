"""Exceptions raised by the catalog layer. Each carries the HTTP status it means (api/ answers
with it); the catalog itself knows nothing of HTTP beyond that number."""


class CatalogError(Exception):
    """Base class for catalog errors: a request the catalog cannot answer as asked."""

    status = 400


class ModelNotFound(CatalogError):
    status = 404

    def __init__(self, repo_id: str) -> None:
        super().__init__(f"model {repo_id!r} is not in the catalog")
        self.repo_id = repo_id


class DatasetNotFound(CatalogError):
    status = 404

    def __init__(self, repo_id: str) -> None:
        super().__init__(f"dataset {repo_id!r} is not in the catalog")
        self.repo_id = repo_id


class LicenseNotFound(CatalogError):
    status = 404

    def __init__(self, license_id: str) -> None:
        super().__init__(f"license {license_id!r} is not in the knowledge base")
        self.license_id = license_id


class KnowledgeBaseError(CatalogError):
    """A data file (licenses, policies) failed validation: the installation is broken, not the request."""

    status = 500


class PolicyError(CatalogError):
    """A policy name or file could not be loaded."""


class UnknownUse(CatalogError):
    def __init__(self, use: str, known: list[str]) -> None:
        super().__init__(f"unknown use {use!r}; expected one of {', '.join(known)}")
        self.use = use


class BomError(CatalogError):
    """A bill of materials that cannot be read."""


class NotCycloneDx(BomError):
    """A document that reads, but is not a CycloneDX BOM."""

    status = 422


class UserNotFound(CatalogError):
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"no user {name!r}")
        self.name = name


class UserExists(CatalogError):
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"a user named {name!r} already exists")
        self.name = name


class InvalidRecord(CatalogError):
    """A curation or review that cannot be recorded as given (unknown license, bad value)."""

    status = 422


class RecordNotFound(CatalogError):
    """No curation, review or webhook with that id."""

    status = 404
