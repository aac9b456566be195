"""No input makes a 500: every route of the helpdesk in the app's URL map (portal, desk, admin,
access, hooks), as an anonymous visitor, a customer, an agent and a host admin, with arbitrary
strings and numbers in the path, in every query parameter the views read and in every field of
every form class (Hypothesis; issue 10 §2).

The app runs with ``TESTING``: an exception in a view propagates out of the test client instead
of becoming a 500 page, so a failure shows its traceback and the smallest input that caused it.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from flask_helpdesk.forms import DEFAULT_FORMS
from tests.untrusted.conftest import TOKEN

# What the views read from query strings (besides form fields, which GET forms also send).
QUERY_PARAMETERS = [
    "q",
    "page",
    "department",
    "status",
    "view",
    "saved",
    "cursor",
    "sort",
    "assignee",
    "creator",
    "requester",
    "priority",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "customer_q",
    "user_q",
    "user",
    "lang",
    "token",
    "recipient",
    "next",
    "tag",
    "unread",
    "limit",
]


def form_field_names() -> list[str]:
    """Every field name of every form class the helpdesk ships (read from the classes)."""
    names: set[str] = set()
    for form_class in DEFAULT_FORMS.values():
        for klass in form_class.__mro__:
            fields = vars(klass).items()
            names.update(name for name, field in fields if isinstance(field, UnboundField))
    return sorted(names)


FIELDS = form_field_names()
NAMES = sorted(set(FIELDS) | set(QUERY_PARAMETERS))

# Values that broke something once, or sit on a boundary: ids beyond 32 and 64 bits, NUL, CR/LF,
# digits of other scripts, LIKE wildcards, 60,000 characters, ticket-code and picker shapes.
EDGES = [
    "",
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999",
    "1e3",
    "٣",
    "²",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: x=1",
    "/support/desk/\r\n",
    "%",
    "_",
    "\\",
    "x" * 60_000,
    "HD-",
    "HD-AAAAAA",
    "contact:1",
    "contact:99999999999999999999",
    "user:1",
    "agent:99999999999999999999",
    "me",
    "none",
    "closed",
    "2026-02-30",
    "'; DROP TABLE helpdesk_ticket; --",
    "<script>alert(1)</script>",
]
edges = st.sampled_from(EDGES)
# The edges twice: one draw in two is a value that broke something once.
values = st.one_of(
    edges,
    edges,
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def helpdesk_rules() -> list[tuple[str, str]]:
    """(rule, method) of every helpdesk route but static files, from the demo host's URL map."""
    from example_app import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("helpdesk") or rule.endpoint.endswith("static"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method))
    return sorted(found)


RULES = helpdesk_rules()


def roles_for(rule: str) -> list[str]:
    """Who is thrown at a route: mostly the people it is for, sometimes anyone else."""
    if "/admin/" in rule or "/inbound-mail/" in rule:
        return ["admin", "admin", "agent", "customer"]
    if "/desk" in rule:
        return ["agent", "agent", "admin", "customer"]
    if "/hooks/" in rule:
        return ["anonymous"]
    return ["customer", "customer", "agent", "anonymous"]


def fill(rule: str, world, value: str | None = None, draw=None) -> str:
    """*rule* with its arguments filled: the world's real ids and code (so the request gets
    past the lookups), *value* everywhere, or what *draw* picks."""

    def argument(match: re.Match) -> str:
        name = match.group(2)
        real = world.ids.get(name) or (world.code if name == "code" else None)
        if draw is not None:
            chosen = draw(st.one_of(st.just(str(real)), values) if real else values)
        else:
            chosen = value if value is not None else str(real or "x")
        return quote(chosen or "x", safe="")

    return ARGUMENT.sub(argument, rule)


@st.composite
def requests(draw, world, rule: str):
    path = fill(rule, world, draw=draw)
    query = draw(st.fixed_dictionaries({}, optional={name: values for name in QUERY_PARAMETERS}))
    data = draw(st.fixed_dictionaries({}, optional={name: values for name in FIELDS}))
    role = draw(st.sampled_from(roles_for(rule)))
    return role, path, query, data


# Sent to every route before the random examples: each value in every parameter and field at
# once (the path's ids real), then ids beyond 64 and 32 bits in the path alone. Each of these
# was a 500 somewhere once.
PARAMETER_POISONS = ["99999999999999999999", "a\x00b", "x" * 60_000, "/x\r\nX: y"]
PATH_POISONS = ["99999999999999999999", "2147483648"]


def poisoned(world, rule: str) -> list[tuple[str, str, dict, dict]]:
    role = roles_for(rule)[0]
    cases = [
        (role, fill(rule, world), dict.fromkeys(QUERY_PARAMETERS, p), dict.fromkeys(FIELDS, p))
        for p in PARAMETER_POISONS
    ]
    if ARGUMENT.search(rule):
        cases += [(role, fill(rule, world, poison), {}, {}) for poison in PATH_POISONS]
    return cases


# Then a few random examples per route: about 80 routes x (4 to 6 poisoned + this many) is a
# few hundred requests. CI draws the same examples every run and keeps no example database;
# locally each run explores new ones and replays any failure it found.
EXAMPLES = int(os.environ.get("HELPDESK_TEST_FUZZ_EXAMPLES", "2"))


def test_no_route_answers_500_to_any_input(app, world):
    """One world for all routes (its setup costs more than a route's examples); the routes
    that delete what others use (canned replies, views, departments) come last."""
    assert len(RULES) > 40  # the walk covers the portal, the desk, admin, access and hooks
    for rule, method in sorted(RULES, key=lambda r: ("delete" in r[0], r)):
        _throw_at(world, rule, method)


def _throw_at(world, rule: str, method: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=bool(os.environ.get("CI")),
        database=None if os.environ.get("CI") else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(world, rule))
    def check(request):  # (role, path, query, data)
        role, path, query, data = request
        client = world.clients[role]
        if method == "GET":
            response = client.get(path, query_string={**data, **query})
        else:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            response = client.open(
                path, method=method, query_string=query, data=data, headers=headers
            )
        assert response.status_code < 500, (role, method, path, query, data)

    for case in poisoned(world, rule):
        check = example(case)(check)
    check()
