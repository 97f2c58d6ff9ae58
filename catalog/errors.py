"""Exceptions raised by the catalog layer; api/ turns them into HTTP answers."""


class CatalogError(Exception):
    """Base class for catalog errors."""


class ModelNotFound(CatalogError):
    def __init__(self, repo_id: str) -> None:
        super().__init__(f"model {repo_id!r} is not in the catalog")
        self.repo_id = repo_id


class DatasetNotFound(CatalogError):
    def __init__(self, repo_id: str) -> None:
        super().__init__(f"dataset {repo_id!r} is not in the catalog")
        self.repo_id = repo_id


class LicenseNotFound(CatalogError):
    def __init__(self, license_id: str) -> None:
        super().__init__(f"license {license_id!r} is not in the knowledge base")
        self.license_id = license_id


class KnowledgeBaseError(CatalogError):
    """A data file (licenses, policies) failed validation."""


class PolicyError(CatalogError):
    """A policy name or file could not be loaded."""


class UnknownUse(CatalogError):
    def __init__(self, use: str, known: list[str]) -> None:
        super().__init__(f"unknown use {use!r}; expected one of {', '.join(known)}")
        self.use = use


class UserNotFound(CatalogError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no user {name!r}")
        self.name = name


class UserExists(CatalogError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a user named {name!r} already exists")
        self.name = name


class InvalidRecord(CatalogError):
    """A curation or review that cannot be recorded as given (unknown license, bad value)."""


class RecordNotFound(CatalogError):
    """No curation or review with that id."""
