"""Health probes for load balancers and orchestrators, under the helpdesk's prefix:

``GET <prefix>/health/live``
    200 while the process answers at all. Touches neither the database nor Redis, so a database
    outage does not get every web process restarted.
``GET <prefix>/health/ready``
    200 when the database answers ``SELECT 1`` (with the helpdesk's tables) and Redis answers
    ``PING`` (when jobs use it), each within a short timeout; 503 otherwise, so the balancer
    sends no traffic here until it is.

No login, no CSRF (GET only), no rate limit, and never cached. The JSON names each check and
whether it passed, never an address or an error message.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..services.health import readiness

bp = Blueprint("helpdesk_health", __name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/health/live")
def live() -> Response:
    return _no_store(jsonify(status="ok"))


@bp.get("/health/ready")
def ready() -> Response:
    checks = readiness()
    ok = all(check.ok for check in checks)
    response = jsonify(
        status="ok" if ok else "unavailable",
        checks={check.name: check.as_dict() for check in checks},
    )
    response.status_code = 200 if ok else 503
    return _no_store(response)


def register(app, state) -> None:
    app.register_blueprint(bp, url_prefix=state.config["HELPDESK_URL_PREFIX"] or "/")
