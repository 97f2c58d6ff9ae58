"""Users, roles and API tokens. Tokens are random and only their SHA-256 is stored; passwords use
Werkzeug's salted hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from catalog.audit import now, record_event
from catalog.errors import InvalidRecord, UserExists, UserNotFound
from catalog.tables import User

ROLES = ("viewer", "reviewer", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def token_digest(token: str) -> str:
    # A token carries 256 random bits, so a fast unsalted digest is enough to make a leaked
    # table useless, and lets a request find its user with one indexed lookup.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(
    session: Session, name: str, *, role: str, password: str | None = None
) -> tuple[User, str]:
    """Create a user; return it with its API token, which is shown once and never stored."""
    if role not in ROLES:
        raise InvalidRecord(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not name or len(name) > 100 or not name.isprintable() or name.strip() != name:
        raise InvalidRecord("a user name is 1 to 100 printable characters, no outer spaces")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise UserExists(name)
    token = "mc_" + secrets.token_urlsafe(32)
    user = User(
        name=name,
        role=role,
        token_hash=token_digest(token),
        password_hash=generate_password_hash(password) if password else None,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    return user, token


def get_user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise UserNotFound(name)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.name)))


def revoke_user(session: Session, name: str) -> User:
    """Revoke a user's token and sign-in; the row stays so the audit trail keeps its names."""
    user = get_user(session, name)
    if user.revoked_at is None:
        user.revoked_at = now()
        session.add(user)
        session.flush()
    return user


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    user = session.exec(select(User).where(User.token_hash == token_digest(token))).first()
    return user if user is not None and user.revoked_at is None else None


def user_for_password(session: Session, name: str, password: str) -> User | None:
    """The active user these credentials sign in, or None (a user's API token also works)."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or user.revoked_at is not None:
        return None
    if user.password_hash and check_password_hash(user.password_hash, password):
        return user
    if secrets.compare_digest(user.token_hash, token_digest(password)):
        return user
    return None


def user_dict(user: User) -> dict[str, object]:
    """What the audit trail and listings show of a user: never a hash."""
    return {
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revoked_at": user.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if user.revoked_at else None,
        "rate_limit": user.rate_limit,
        "password": user.password_hash is not None,
    }


def create_user(
    session: Session, name: str, *, role: str, by: str, password: str | None = None
) -> str:
    """Add a user with an audit event and commit; return the new token."""
    user, token = add_user(session, name, role=role, password=password)
    record_event(session, actor=by, action="user.add", target=f"user:{name}", after=user_dict(user))
    session.commit()
    return token


def revoke(session: Session, name: str, *, by: str) -> None:
    """Revoke a user with an audit event and commit."""
    before = user_dict(get_user(session, name))
    user = revoke_user(session, name)
    record_event(
        session,
        actor=by,
        action="user.revoke",
        target=f"user:{name}",
        before=before,
        after=user_dict(user),
    )
    session.commit()


def has_role(user: User | None, role: str) -> bool:
    return user is not None and ROLE_RANK[user.role] >= ROLE_RANK[role]
