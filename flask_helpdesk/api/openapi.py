"""The OpenAPI 3.1 document, written from the registered operations and their pydantic models
(the same models that validate requests), and a browsable page of it with no outside assets."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, current_app, render_template_string, request
from pydantic import BaseModel

from ..i18n import gettext as _
from ..state import current_helpdesk
from ..version import __version__ as package_version
from .core import OPERATIONS, Operation, operation
from .problems import PROBLEM_TYPE
from .schemas import ContactOut, Problem, TicketOut

RULE_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
ETAG_MODELS = (TicketOut, ContactOut)
STANDARD_ERRORS = {401: "Not authenticated", 429: "Rate limit exceeded (see Retry-After)"}


class _Schemas:
    """components/schemas, filled as operations name models."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, str]:
        name = model.__name__
        if name not in self.schemas:
            schema = model.model_json_schema(
                ref_template="#/components/schemas/{model}",
                mode=mode,  # type: ignore[arg-type]
            )
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name, definition)
            self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def property_of(self, model: type[BaseModel], field: str) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.get("$defs", {}).items():
            self.schemas.setdefault(def_name, definition)
        return schema["properties"][field]


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in RULE_ARGUMENT.findall(rule):
        schema = (
            {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
            if converter == "int"
            else {"type": "string", "maxLength": 200}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return RULE_ARGUMENT.sub(r"{\2}", rule), parameters


def _operation(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    parameters = _path(op.rule)[1]
    if op.query is not None:
        for name, info in op.query.model_fields.items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": info.is_required(),
                    "schema": schemas.property_of(op.query, name),
                }
            )
    if op.if_match:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "The ETag of the version being changed.",
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    result: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {},
    }
    if op.description:
        result["description"] = op.description
    if op.body is not None:
        content = {"application/json": {"schema": schemas.ref(op.body, "validation")}}
        if op.form is not None:
            content["multipart/form-data"] = {"schema": schemas.ref(op.form, "validation")}
        result["requestBody"] = {"required": True, "content": content}
    responses = dict(op.responses)
    if op.scope is not None:
        responses.update({code: Problem for code in STANDARD_ERRORS})
        result["security"] = [{"bearerToken": []}, {"hostSession": []}]
    if op.query is not None or op.body is not None:
        responses.setdefault(422, Problem)
    if op.body is not None:
        responses.setdefault(415, Problem)
        responses.setdefault(400, Problem)
    for status, model in sorted(responses.items()):
        result["responses"][str(status)] = _response(status, model, op, schemas)
    return result


def _response(status: int, model: Any, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    from werkzeug.http import HTTP_STATUS_CODES

    described: dict[str, Any] = {"description": HTTP_STATUS_CODES.get(status, str(status))}
    if model is Problem:
        described["content"] = {PROBLEM_TYPE: {"schema": schemas.ref(Problem)}}
    elif model == "application/json":
        described["content"] = {model: {"schema": {"type": "object"}}}
    elif isinstance(model, str):
        described["content"] = {model: {"schema": {"type": "string"}}}
    elif model is not None:
        described["content"] = {"application/json": {"schema": schemas.ref(model)}}
    if status in (200, 201) and model in ETAG_MODELS:
        described["headers"] = {"ETag": {"schema": {"type": "string"}}}
    if status == 429:
        described["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return described


def build_document() -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path_template, _params = _path(op.rule)
        paths.setdefault(path_template, {})[op.method.lower()] = _operation(op, schemas)
    prefix = current_helpdesk.config["HELPDESK_API_URL_PREFIX"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_helpdesk.config['HELPDESK_SITE_NAME']} helpdesk API",
            "version": package_version,
            "description": "Errors are RFC 9457 problem details. See docs/api.rst.",
        },
        "servers": [{"url": request.script_root + prefix}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "hostSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": current_app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "The host's login; unsafe methods need X-CSRFToken.",
                },
            },
        },
    }


@operation(
    "/openapi.json",
    summary="This document",
    tag="Meta",
    scope=None,
    responses={200: "application/json"},
)
def openapi_document():
    return Response(json.dumps(build_document()), mimetype="application/json")


PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2em}
.op{margin:1em 0;padding:.5em 1em;border-left:4px solid #58a;background:#f7f9fb}
.m{font:bold 13px monospace;text-transform:uppercase;margin-inline-end:.5em}
code,pre{font-size:13px}pre{overflow:auto;background:#fff;padding:.5em;border:1px solid #eee}
</style></head><body>
<h1>{{ title }}</h1>
<p><a href="{{ json_url }}">openapi.json</a></p>
{% for tag, ops in groups.items() %}<h2>{{ tag }}</h2>
{% for path, method, op in ops %}<div class="op" id="{{ op.operationId }}">
<div><span class="m">{{ method }}</span><code>{{ path }}</code> — {{ op.summary }}</div>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
<details><summary>{{ details }}</summary><pre>{{ op | tojson(indent=2) }}</pre></details>
</div>{% endfor %}{% endfor %}
<h2>{{ schemas_title }}</h2>
<pre>{{ doc.components | tojson(indent=2) }}</pre>
</body></html>"""


@operation(
    "/docs", summary="This document as a page", tag="Meta", scope=None, responses={200: "text/html"}
)
def openapi_page():
    doc = build_document()
    groups: dict[str, list[Any]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))
    html = render_template_string(
        PAGE,
        doc=doc,
        groups=groups,
        title=doc["info"]["title"],
        details=_("Parameters and responses"),
        schemas_title=_("Schemas"),
        json_url=request.base_url.rsplit("/", 1)[0] + "/openapi.json",
        lang="en",
    )
    return Response(html, mimetype="text/html")
