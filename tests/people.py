"""Test helpers: real users with real tokens in the test database, and clients that carry them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.people import add_user

PASSWORD = "correct horse battery staple"


def make_user(engine: Engine, name: str, role: str) -> str:
    """Add a user (password PASSWORD) and return its API token."""
    with Session(engine) as session:
        _user, token = add_user(session, name, role=role, password=PASSWORD)
        session.commit()
    return token


def token_client(app: Flask, token: str) -> FlaskClient:
    """A test client that sends `Authorization: Bearer <token>` with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def user_client(app: Flask, name: str, role: str) -> FlaskClient:
    engine = app.extensions["modelcatalog.engine"]
    return token_client(app, make_user(engine, name, role))


def sign_in(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the real form in a Playwright page."""
    page.goto("/signin")
    page.fill("#signin-name", name)
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-button")
    page.wait_for_selector("#signed-in-as")
