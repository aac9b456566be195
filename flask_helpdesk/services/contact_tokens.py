"""The signed token of a contact-form request's confirmation link (itsdangerous, keyed by the
app's secret, as the reply ratings' links are). A module of its own: the request service
and the job that mails the link both need it."""

from __future__ import annotations

from typing import Any

from itsdangerous import URLSafeTimedSerializer

from ..models import ContactRequest
from .reply_ratings import signed_serializer

SALT = "flask-helpdesk-contact-request"


def serializer() -> URLSafeTimedSerializer:
    return signed_serializer(SALT, "contact-form links")


def confirmation_token(request: ContactRequest) -> str:
    """The token of *request*'s confirmation link (bound to the request and its address)."""
    return serializer().dumps({"r": request.id, "e": request.email})


def token_data(token: str, max_age: float | None) -> Any:
    """The token's data; raises itsdangerous' ``SignatureExpired`` / ``BadSignature``."""
    return serializer().loads(token, max_age=max_age)
