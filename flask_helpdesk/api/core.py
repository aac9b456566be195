"""The API blueprint and what every operation shares: one decorator that registers a view
with its schemas (read back by ``openapi.py``), authenticates, checks the scope, rate-limits and
validates input; errors as RFC 9457 problem details; ETags.

Error handling stays inside the blueprint: the host's app-wide handlers (its HTML 404 page) are
never replaced. Unknown paths under the API's prefix reach a catch-all view of the blueprint, so
they get problem details too, with ``Allow`` on a 405.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from werkzeug.exceptions import HTTPException

from ..i18n import gettext as _
from ..services import NotFound, ServiceError
from .auth import authenticate, require_scope
from .problems import BadInput, problem
from .schemas import MAX_ID

bp = Blueprint("helpdesk_api", __name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Operation:
    """One documented operation: what ``openapi.py`` writes and the wrapper enforces."""

    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    scope: str | None  # None: no authentication (the document itself)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart alternative to *body*
    responses: dict[int, type[BaseModel] | str | None] = field(default_factory=dict)
    if_match: bool = False
    description: str = ""


OPERATIONS: list[Operation] = []


def operation(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tag: str,
    scope: str | None = "read",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str | None] | None = None,
    if_match: bool = False,
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on the blueprint. It receives ``query=`` / ``body=`` (validated model
    instances) when declared, and returns a model, ``(model, status)``, or a Response."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(
            method,
            rule,
            view.__name__,
            summary,
            tag,
            scope,
            query,
            body,
            form,
            dict(responses or {}),
            if_match,
            description or (view.__doc__ or "").strip(),
        )
        OPERATIONS.append(op)

        @wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            if op.scope is not None:
                authenticate()
                require_scope(op.scope)
            if op.query is not None:
                kwargs["query"] = _validate(op.query, _query_data(op.query))
            if op.body is not None:
                multipart = op.form is not None and request.mimetype == "multipart/form-data"
                kwargs["body"] = _validate(
                    op.body, _form_body(op.body) if multipart else _json_body()
                )
            return to_response(view(**kwargs))

        bp.add_url_rule(rule, view.__name__, wrapper, methods=[method])
        return wrapper

    return decorator


# -- input ------------------------------------------------------------------------------------


def _check_text(value: Any, path: str = "") -> None:
    """Refuse NUL characters and lone surrogates anywhere: PostgreSQL cannot store them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInput(422, _("Text may not contain NUL characters."), [_field(path)])
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput(422, _("Text is not valid Unicode."), [_field(path)]) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path)
            _check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}.{index}" if path else str(index))


def _field(path: str) -> dict[str, str]:
    return {"field": path, "message": _("Not accepted.")}


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise BadInput(415, _("Send a JSON body (Content-Type: application/json)."))
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise BadInput(400, _("The body is not valid JSON.")) from None
    _check_text(data)
    return data


def _form_body(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields from a multipart form (files are the view's business)."""
    data = {name: request.form[name] for name in model.model_fields if name in request.form}
    _check_text(data)
    return data


def _query_data(model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in request.args:
            continue
        is_list = getattr(info.annotation, "__origin__", None) is list
        data[name] = request.args.getlist(name) if is_list else request.args[name]
    unknown = sorted(set(request.args) - set(model.model_fields))
    for name in unknown:
        data[name] = request.args[name]  # refused by the model (extra="forbid")
    _check_text(data)
    return data


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as error:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in error.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise BadInput(422, _("The request is not valid."), errors) from None


# -- output -----------------------------------------------------------------------------------


def to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status, headers = 200, {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    body = result.model_dump_json() if isinstance(result, BaseModel) else json.dumps(result)
    response = current_app.response_class(body, status=status, mimetype="application/json")
    response.headers.update(headers)
    return response


def known_id(value: int) -> int:
    """An id from the path; beyond an INTEGER column it cannot exist (and must not reach SQL)."""
    if not 0 < value <= MAX_ID:
        raise NotFound(_("Not found."))
    return value


def etag_of(data: BaseModel) -> str:
    digest = hashlib.sha256(data.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def check_if_match(current: str) -> None:
    """428 without ``If-Match``, 412 when it names another version than *current*."""
    given = request.headers.get("If-Match")
    if not given:
        raise BadInput(428, _("Send If-Match with the ETag of the version you changed."))
    tags = [t.strip() for t in given.split(",")]
    if "*" not in tags and current not in tags and f"W/{current}" not in tags:
        raise BadInput(412, _("It was changed by someone else; read it again."))


# -- errors, kept to this blueprint -----------------------------------------------------------


@bp.errorhandler(BadInput)
def _bad_input(error: BadInput) -> Response:
    return problem(error.status, error.detail, error.errors)


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> Response:
    errors = [
        {"field": name, "message": str(message)}
        for name, messages in error.field_errors.items()
        for message in messages
    ]
    return problem(error.status_code, str(error.message), errors)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    if error.response is not None:  # abort(response): already what it should be
        return error.response
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    return problem(error.code or 500, error.description or "", headers=headers)


@bp.route("/", methods=list(METHODS), endpoint="not_found", defaults={"path": ""})
@bp.route("/<path:path>", methods=list(METHODS), endpoint="not_found")
def _not_found(path: str) -> Response:
    """Paths the API does not have: 404; a method a path does not allow: 405 with Allow."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in METHODS:
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != f"{bp.name}.not_found":
            allowed.add(method)
    if allowed:
        if "GET" in allowed:
            allowed.add("HEAD")
        allowed.add("OPTIONS")
        return problem(405, headers={"Allow": ", ".join(sorted(allowed))})
    return problem(404, _("No such API endpoint."))
