"""Access to the app's database engine and request-scoped sessions."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.engine import Engine
from sqlmodel import Session


def engine() -> Engine:
    return current_app.extensions["modelcatalog.engine"]


def new_session() -> Session:
    return Session(engine())
