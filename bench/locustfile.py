"""The people of the load test (bench/load.py starts Locust on this file; not run by itself).

Customers and agents log in through the host site's own login page and then use the pages as a
browser does: every form is read from the page it is on (CSRF token, hidden fields, choices), so
a request the desk refuses is a real error. The mail provider posts raw mails to the mail
webhook at a steady rate, whatever the answers take (an open loop, as a provider delivers).

Every request names its page in an ``X-Load-Page`` header: bench/load_app.py logs what each
page cost the server under that name.

The environment (set by bench/load.py): ``LOAD_PEOPLE`` (JSON: password, agent and customer
logins, search words), ``LOAD_MAIL_TOKEN``, ``LOAD_MAILS_PER_SECOND``, ``LOAD_MAX_REQUESTS``,
``LOAD_RESULT`` (where the figures go).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import gevent
from gevent.pool import Group
from locust import HttpUser, between, constant, events, task
from requests.adapters import HTTPAdapter

with open(os.environ["LOAD_PEOPLE"]) as _file:
    PEOPLE = json.load(_file)
MAILS_PER_SECOND = float(os.environ.get("LOAD_MAILS_PER_SECOND", "20"))
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "100000"))
WORDS = PEOPLE["words"]
_agents = itertools.cycle(PEOPLE["agents"])
_customers = itertools.cycle(random.sample(PEOPLE["customers"], len(PEOPLE["customers"])))
_requests = itertools.count(1)

DESK_CODE = re.compile(r'href="/support/desk/tickets/([A-Z]+-[0-9A-Z]+)"')
PORTAL_CODE = re.compile(r'href="/support/tickets/([A-Z]+-[0-9A-Z]+)"')
SENTENCES = [
    "My order has not arrived yet",
    "The invoice shows the wrong address",
    "I cannot log in since this morning",
    "Please cancel the second subscription",
    "The app crashes when I open settings",
]


_environment = None


@events.init.add_listener
def _remember(environment, **_kwargs) -> None:
    global _environment
    _environment = environment


@events.request.add_listener
def _bounded(**_kwargs) -> None:
    """Bounded in requests as well as in time: stop the run after ``LOAD_MAX_REQUESTS``."""
    if next(_requests) == MAX_REQUESTS and _environment is not None:
        gevent.spawn(_environment.runner.quit)


@events.quitting.add_listener
def _write_figures(environment, **_kwargs) -> None:
    """The final figures per page, for bench/load.py to print (``LOAD_RESULT``)."""
    stats = environment.stats
    rows = []
    for entry in [*sorted(stats.entries.values(), key=lambda e: e.name), stats.total]:
        rows.append(
            {
                "name": entry.name if entry is not stats.total else "all pages",
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "p50": entry.get_response_time_percentile(0.50),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
                "max": entry.max_response_time,
                "seconds": stats.total.last_request_timestamp - stats.total.start_time
                if stats.total.last_request_timestamp
                else 0,
            }
        )
    errors = [
        {"method": e.method, "name": e.name, "error": str(e.error), "count": e.occurrences}
        for e in stats.errors.values()
    ]
    with open(os.environ["LOAD_RESULT"], "w") as handle:
        json.dump({"rows": rows, "errors": errors, "mails": MAIL_FIGURES}, handle)


class Forms(HTMLParser):
    """Every <form> of a page: its action and its fields' values (a select's options too)."""

    def __init__(self, html: str, url: str = "") -> None:
        super().__init__()
        self.url = url  # where a form without an action posts (its own page)
        self.forms: list[dict] = []
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.url
            self.forms.append({"action": action, "fields": {}, "options": {}})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.forms[-1]["options"][self._select] = []
        elif tag == "option" and self._select and "disabled" not in a:
            self.forms[-1]["options"][self._select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def find(self, action_end: str) -> dict | None:
        """The form posting to *action_end*; one with a CSRF token first (a search form on the
        same page posts nowhere)."""
        matches = [f for f in self.forms if f["action"].split("?")[0].endswith(action_end)]
        return next((f for f in matches if "csrf_token" in f["fields"]), None) or next(
            iter(matches), None
        )

    def with_field(self, name: str) -> dict | None:
        return next((form for form in self.forms if name in form["fields"]), None)


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)  # reading and typing between two pages

    def on_start(self) -> None:
        page = self.page("/login", "login page")
        # The host's login form posts to its own address (no action).
        form = Forms(page.text).with_field("password") or {"fields": {}}
        with self.client.post(
            "/login",
            data={
                "csrf_token": form["fields"].get("csrf_token", ""),
                "email": self.login["email"],
                "password": PEOPLE["password"],
            },
            name="login",
            headers={"X-Load-Page": "login"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login refused for {self.login['email']}")

    def page(self, url: str, name: str):
        return self.client.get(url, name=name, headers={"X-Load-Page": name})

    def post_form(self, page, action_end: str, name: str, **values):
        """Submit the form of *page* whose action ends with *action_end*."""
        form = Forms(page.text, urlsplit(page.url).path).find(action_end)
        if form is None:
            return None
        data = {**form["fields"], **values}
        with self.client.post(
            form["action"],
            data=data,
            name=name,
            headers={"X-Load-Page": name},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # 302: done, back to the page. 409: another agent wrote meanwhile (the desk shows
            # it and keeps the text): an expected answer under load, not an error.
            if response.status_code in (302, 303) or (
                response.status_code == 409 and name == "desk reply"
            ):
                response.success()
            else:
                response.failure(f"{response.status_code}")
        return response


class Customer(Person):
    weight = 3

    def on_start(self) -> None:
        self.login = next(_customers)
        super().on_start()
        self.codes: list[str] = []

    @task(6)
    def my_requests(self) -> None:
        page = self.page("/support/", "portal: my requests")
        self.codes = PORTAL_CODE.findall(page.text)

    @task(6)
    def open_one(self) -> None:
        if not self.codes:
            return self.my_requests()
        code = random.choice(self.codes)
        page = self.page(f"/support/tickets/{code}", "portal: ticket")
        if random.random() < 0.3:
            self.post_form(
                page,
                f"/tickets/{code}/reply",
                "portal: reply",
                body=f"{random.choice(SENTENCES)}. {' '.join(random.sample(WORDS, 2))}",
            )
        elif random.random() < 0.3:
            self.post_form(
                page, f"/tickets/{code}/rate", "portal: rate", stars=str(random.randint(3, 5))
            )

    @task(1)
    def new_request(self) -> None:
        page = self.page("/support/new", "portal: new request form")
        form = Forms(page.text, "/support/new").find("/support/new")
        choices = (form or {"options": {}})["options"].get("department_id", [])
        departments = [value for value in choices if value]
        response = self.post_form(
            page,
            "/support/new",
            "portal: new request",
            department_id=random.choice(departments) if departments else "",
            subject=f"{random.choice(SENTENCES)} ({random.randint(1, 10**9)})",
            body=f"{random.choice(SENTENCES)}. {' '.join(random.sample(WORDS, 3))}",
        )
        if response is not None and response.status_code == 302:
            code = response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
            if code.startswith(("HD-",)):
                self.codes.append(code)


class Agent(Person):
    weight = 2

    def on_start(self) -> None:
        self.login = next(_agents)
        super().on_start()
        self.codes: list[str] = []

    def _queue(self, url: str, name: str) -> None:
        page = self.page(url, name)
        found = DESK_CODE.findall(page.text)
        if found:
            self.codes = found

    @task(5)
    def queue(self) -> None:
        self._queue("/support/desk/", "desk: queue")

    @task(3)
    def filters(self) -> None:
        url, name = random.choice(
            [
                ("/support/desk/?status=open", "desk: queue ?status=open"),
                ("/support/desk/?assignee=me", "desk: queue ?assignee=me"),
                ("/support/desk/?status=answered&sort=created", "desk: queue ?status&sort"),
                ("/support/desk/?priority=high", "desk: queue ?priority=high"),
                ("/support/desk/?assignee=unassigned", "desk: queue ?assignee=unassigned"),
            ]
        )
        self._queue(url, name)

    @task(2)
    def search(self) -> None:
        self._queue(f"/support/desk/?q={random.choice(WORDS)}", "desk: search")

    @task(6)
    def open_one(self) -> None:
        if not self.codes:
            return self.queue()
        code = random.choice(self.codes)
        page = self.page(f"/support/desk/tickets/{code}", "desk: ticket")
        roll = random.random()
        if roll < 0.35:
            self.post_form(
                page,
                f"/tickets/{code}/reply",
                "desk reply",
                body=f"Thanks for writing. {' '.join(random.sample(WORDS, 3))}",
                action="reply",
                then_status=random.choice(["", "processing"]),
            )
        elif roll < 0.55:
            self.post_form(
                page,
                f"/tickets/{code}/assign",
                "desk: assign",
                assignee_id=str(self.login["agent_id"]),
            )


_mail_numbers = itertools.count(1)
# What the mail provider did, for bench/load.py: mails due at the rate, posted, accepted (202),
# refused or failed, still unanswered when the run stopped, the first and last post's times.
MAIL_FIGURES = {
    "rate": MAILS_PER_SECOND,
    "due": 0,
    "posted": 0,
    "accepted": 0,
    "failed": 0,
    "unanswered": 0,
    "first": None,
    "last": None,
}
MAX_IN_FLIGHT = 200  # posts awaiting an answer; beyond, the mail is due but not posted (an error)


class Mailer(HttpUser):
    """The mail provider posting inbound mail to the webhook: new requests and replies, at
    ``LOAD_MAILS_PER_SECOND`` on a fixed timetable. Each mail is posted by a greenlet of its
    own, so a slow answer delays no other mail (the earlier mailers waited for each answer,
    and under load reached 1.2 mails a second of the 20 asked for). A mail that could not be
    posted in time, failed, or had no answer when the run stopped is a failed request."""

    fixed_count = 1
    wait_time = constant(0)
    abstract = MAILS_PER_SECOND <= 0  # --mails 0: the people alone

    def on_start(self) -> None:
        # Enough kept-alive connections for the mails in flight (the default keeps 10).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=MAX_IN_FLIGHT)
        self.client.mount("http://", adapter)
        self.in_flight = Group()
        self.next_at = time.monotonic()

    def on_stop(self) -> None:
        # Posts still out get a few seconds to be answered; those without one are errors.
        self.in_flight.join(timeout=8)
        unanswered = len(self.in_flight)
        self.in_flight.kill(block=False)
        MAIL_FIGURES["unanswered"] += unanswered
        for _ in range(unanswered):
            events.request.fire(
                request_type="POST",
                name="webhook: mail",
                response_time=8000,
                response_length=0,
                exception=RuntimeError("no answer when the run stopped"),
                context={},
            )

    @task
    def pace(self) -> None:
        self.next_at += 1 / MAILS_PER_SECOND
        gevent.sleep(max(0.0, self.next_at - time.monotonic()))
        MAIL_FIGURES["due"] += 1
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            events.request.fire(
                request_type="POST",
                name="webhook: mail",
                response_time=0,
                response_length=0,
                exception=RuntimeError(f"not posted: {MAX_IN_FLIGHT} mails awaiting answers"),
                context={},
            )
            return
        self.in_flight.spawn(self.mail)

    def mail(self) -> None:
        number = next(_mail_numbers)
        customer = random.choice(PEOPLE["customers"])["email"]
        message = EmailMessage()
        message["From"] = f"Customer <{customer}>"
        message["To"] = random.choice(["support@example.com", "help@example.com"])
        message["Subject"] = f"{random.choice(SENTENCES)} #{number}"
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(f"load{number}", domain="mail.example.com")
        message.set_content(f"Hello,\n\n{random.choice(SENTENCES)}. {' '.join(WORDS)}\n")
        now = time.time()
        MAIL_FIGURES["first"] = MAIL_FIGURES["first"] or now
        MAIL_FIGURES["last"] = now
        MAIL_FIGURES["posted"] += 1
        with self.client.post(
            "/support/hooks/mail",
            data=message.as_bytes(),
            headers={
                "Content-Type": "message/rfc822",
                "Authorization": f"Bearer {os.environ['LOAD_MAIL_TOKEN']}",
                "X-Load-Page": "webhook: mail",
            },
            name="webhook: mail",
            catch_response=True,
        ) as response:
            if response.status_code == 202:
                MAIL_FIGURES["accepted"] += 1
            else:
                MAIL_FIGURES["failed"] += 1
                response.failure(f"{response.status_code}")
