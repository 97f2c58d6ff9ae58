"""Exceptions raised while ingesting; the CLI reports them, api/ maps them to HTTP answers."""


class IngestError(Exception):
    """Base class for ingest errors."""


class BadRecord(IngestError):
    """A record that cannot be stored at all (no usable repo id, not a JSON object)."""


class HubUnreachable(IngestError):
    """The Hub endpoint cannot be reached or keeps failing after retries."""
