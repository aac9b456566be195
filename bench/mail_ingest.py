"""Ingest 10,000 mixed inbound mails and print messages per second and peak memory.

    python bench/mail_ingest.py                                   # SQLite in a temporary dir
    python bench/mail_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/hd_bench

    python bench/mail_ingest.py --database-url postgresql+psycopg://... \
        --redis-url redis://127.0.0.1:6379/9 --workers 2             # jobs on RQ

The database is emptied first (every table of the demo host and the helpdesk is dropped and
created again): point it at a database of its own. Every mail goes the production way:
``intake.receive`` stores the raw bytes and commits, then processing runs inline (no Redis):
parse, noise check, threading, contact lookup, the ticket or reply with its attachments, the
staff notification rendered for Flask-Mail (sending suppressed), and the row marked done.

The mix is shaped after the test corpus (``tests/mail/corpus``): new requests in plain text
and in HTML with quoted history; replies threaded by the ``[HD-XXXXXX]`` subject code or by
``In-Reply-To`` one of our signed Message-IDs; mails with a PDF or an image attached;
auto-replies, bounces, bulk and list mail (ignored); and redeliveries of a mail already stored
(duplicates). Only the ``receive`` calls are timed; building the mails is not.

With ``--redis-url`` the jobs (processing and notifications) go to RQ and ``--workers``
worker processes run them while the mails arrive; the time is from the first mail stored to
the last job done, and the CPU time is the ingesting process's plus the workers' from the
moment they listen (starting a worker, its imports and the app, is not a mail's cost). It also
prints how many RQ jobs ran, and, on a PostgreSQL server on this machine, the CPU time of the
server processes serving the database (read from ``/proc``) and the cost of a mail with it. With
``--workers 0`` only the intake side is measured (what the pipe, the webhook or the IMAP
fetcher does per mail: store it and queue its processing), and the queued jobs are dropped.
With ``--prebuild`` every timed mail is built before the clock starts (after an untimed
warm-up whose tickets the replies answer): the wall time is then the helpdesk's alone.
SQLite runs in WAL mode with ``synchronous=NORMAL`` unless ``--sqlite-default-journal``.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _app as shared  # noqa: E402
from example_app.models import db  # noqa: E402
from flask_helpdesk.mail.threading import make_message_id  # noqa: E402
from flask_helpdesk.models import InboundMail, Message, Ticket  # noqa: E402
from flask_helpdesk.services import intake  # noqa: E402
from flask_helpdesk.services.departments import create_department  # noqa: E402
from flask_helpdesk.services.identity import SYSTEM  # noqa: E402
from tests.mail.mails import make_mail  # noqa: E402

CORPUS = ROOT / "tests" / "mail" / "corpus"
NOISE = ["out_of_office.eml", "dsn_bounce.eml", "precedence_bulk.eml", "mailing_list.eml",
         "x_autoreply.eml", "read_receipt.eml"]  # fmt: skip
SHAPES = Counter(
    new_text=30, new_html=10, reply_code=20, reply_message_id=12, attachment=10, noise=12,
    duplicate=6,
)  # fmt: skip
PDF = b"%PDF-1.4\n" + os.urandom(40_000).hex().encode()[:60_000] + b"\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
WORDS = [
    "order",
    "invoice",
    "refund",
    "account",
    "password",
    "login",
    "delivery",
    "parcel",
    "address",
    "payment",
    "card",
    "subscription",
    "cancel",
    "upgrade",
    "error",
    "page",
    "app",
    "phone",
    "email",
    "receipt",
    "shipping",
]


def _body(rng: random.Random, sentences: int = 4) -> str:
    return " ".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
        for _ in range(sentences)
    )


def _mail(rng, sender, subject, body, **extra) -> bytes:
    to = rng.choice(["support@example.com", "billing@example.com"])
    return make_mail(subject=subject, body=body, sender=sender, to=to, **extra)


def _noise(rng: random.Random, name: str) -> bytes:
    """A corpus noise mail with a fresh Message-ID (otherwise it is one stored mail)."""
    raw = (CORPUS / name).read_bytes()
    fresh = make_msgid("noise", domain="mx.example.net").encode()
    lines = [
        b"Message-ID: " + fresh if line.lower().startswith(b"message-id:") else line
        for line in raw.split(b"\n")
    ]
    if not any(line.lower().startswith(b"message-id:") for line in raw.split(b"\n")):
        lines.insert(0, b"Message-ID: " + fresh)
    return b"\n".join(lines)


class Mix:
    """Builds the next mail of the mix; replies pick tickets the run has already made."""

    def __init__(self, seed: int, senders: int, url: str | None = None) -> None:
        # PostgreSQL: the mix reads the tickets to answer on a connection of its own, so that
        # its server CPU is not counted as the intake's (picking a random ticket scans them).
        self.reads = (
            create_engine(url, connect_args={"application_name": "bench-mix"})
            if url and url.startswith("postgresql")
            else None
        )
        self.rng = random.Random(seed)
        self.senders = [f"Customer {i} <customer{i}@example.org>" for i in range(senders)]
        self.shapes = list(SHAPES.elements())
        self.sent: list[bytes] = []

    def _read(self, query):
        if self.reads is None:
            return db.session.execute(query).first()
        with self.reads.connect() as connection:
            return connection.execute(query).first()

    def _ticket(self) -> tuple[str, str, int] | None:
        row = self._read(
            select(Ticket.code, Ticket.email, Ticket.id).order_by(func.random()).limit(1)
        )
        return tuple(row) if row else None

    def next(self) -> tuple[str, bytes]:
        rng = self.rng
        shape = rng.choice(self.shapes)
        sender = rng.choice(self.senders)
        if shape.startswith("reply") and (ticket := self._ticket()) is not None:
            code, address, ticket_id = ticket
            body = f"{_body(rng, 2)}\n\nOn Monday, Support wrote:\n> {_body(rng, 3)}\n"
            if shape == "reply_code":
                raw = _mail(rng, address, f"Re: [{code}] Question", body)
            else:
                last = self._read(
                    select(func.max(Message.id)).where(Message.ticket_id == ticket_id)
                )[0]
                ours = make_message_id(code, f"m{last}")
                raw = _mail(rng, address, "Re: Question", body, in_reply_to=f"<{ours}>")
        elif shape == "new_html":
            text = _body(rng)
            html = (
                f"<div dir='ltr'><p>{text}</p><p><img src='https://t.example.net/p.gif'></p>"
                f"<blockquote class='gmail_quote'><p>{_body(rng, 2)}</p></blockquote></div>"
            )
            raw = _mail(rng, sender, "Trouble with " + rng.choice(WORDS), text, html=html)
        elif shape == "attachment":
            files = [("invoice.pdf", "application/pdf", PDF)]
            if rng.random() < 0.5:
                files.append(("screenshot.png", "image/png", PNG))
            raw = _mail(rng, sender, "See attached", _body(rng), attachments=files)
        elif shape == "noise":
            raw = _noise(rng, rng.choice(NOISE))
        elif shape == "duplicate" and self.sent:
            raw = rng.choice(self.sent)
        else:
            shape = "new_text"
            raw = _mail(rng, sender, "Help with " + rng.choice(WORDS), _body(rng))
        if shape != "duplicate" and len(self.sent) < 500:
            self.sent.append(raw)
        return shape, raw


def _reset_schema(app) -> None:
    shared.reset_schema(app)
    for slug, name in (("account", "Account"), ("billing", "Billing")):
        department = create_department(SYSTEM, name, slug=slug)
        department.email = f"{slug if slug == 'billing' else 'support'}@example.com"
    db.session.commit()


def _app(url: str, workdir: str, redis_url: str | None, real_dns: bool = False, role="intake"):
    dns = {} if real_dns else {"HELPDESK_MAIL_DNS_RESOLVER": _no_dns}
    notify = ("team@example.com",)
    if url.startswith("postgresql"):  # the server processes are told apart by this name
        dns["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"application_name": f"bench-{role}"}}
    return shared.bench_app(url, workdir, redis_url, HELPDESK_NOTIFY_EMAILS=notify, **dns)


def _run_worker(
    url: str, workdir: str, redis_url: str, real_dns: bool, profile: str | None
) -> None:
    """One RQ worker process (``--worker``), stopped by the benchmark with SIGTERM; with
    *profile* its work (from listening to the stop) under cProfile, written to that file."""
    from flask_helpdesk.jobs import freeze_start_up, make_worker

    logging.basicConfig(level=logging.ERROR)
    app = _app(url, workdir, redis_url, real_dns, role="worker")
    worker = make_worker(app)
    freeze_start_up()  # as ``flask helpdesk worker`` does
    profiler = cProfile.Profile(time.process_time) if profile else None
    if profiler is not None:
        profiler.enable()
    worker.work(burst=False, logging_level="ERROR")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)


def _start_workers(args, url: str, workdir: str) -> list[subprocess.Popen]:
    command = [sys.executable, __file__, "--worker", "--database-url", url]
    command += ["--redis-url", args.redis_url, "--workdir", workdir]
    command += ["--real-dns"] if args.real_dns else []
    return [
        subprocess.Popen(
            command + ([f"--profile={args.profile}.worker{n}"] if args.profile else [])
        )
        for n in range(1, args.workers + 1)
    ]


def _wait_until_done(app, workers: list[subprocess.Popen]) -> None:
    """Until every stored mail is processed and the queue is empty (notifications too); a
    worker that died stops the benchmark."""
    from rq.registry import StartedJobRegistry

    queue = app.extensions["helpdesk"].dispatcher.queue
    started = StartedJobRegistry(queue=queue)
    pending = (InboundMail.status == "received") | (InboundMail.status == "processing")
    while True:
        left = db.session.scalar(select(func.count()).select_from(InboundMail).where(pending))
        db.session.rollback()
        if not left and not queue.count and not started.count:
            return
        if any(worker.poll() is not None for worker in workers):
            raise SystemExit("a worker process died (its error is above)")
        time.sleep(0.05)


def _stop_workers(workers: list[subprocess.Popen]) -> list[float]:
    """Stop the workers; the CPU time of each in seconds."""
    cpu = []
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        _pid, _status, usage = os.wait4(worker.pid, 0)
        cpu.append(usage.ru_utime + usage.ru_stime)
    return cpu


def _drop_drain_keys(dispatcher) -> None:
    """The mail ids a previous run left for its drain job (see ``jobs.enqueue_item``): the
    tables are new, the ids would name other mails. And the jobs a previous run finished:
    they would be counted as this run's."""
    redis = dispatcher.queue.connection
    for key in redis.scan_iter(f"helpdesk:drain:{dispatcher.queue_name}:*"):
        redis.delete(key)
    finished = dispatcher.queue.finished_job_registry
    for job_id in finished.get_job_ids():
        finished.remove(job_id, delete_job=True)


def _cpu_of(pid: int) -> float:
    """CPU seconds process *pid* used so far (Linux), 0 when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for_workers(app, count: int) -> None:
    """Until *count* workers listen on the queue (imported, app made, connected)."""
    from rq import Worker

    queue = app.extensions["helpdesk"].dispatcher.queue
    deadline = time.monotonic() + 120
    while len(Worker.all(queue=queue)) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def _backends(app) -> dict[int, tuple[str, float]]:
    """PostgreSQL: the CPU seconds of each server process serving this database, with whom
    it serves (``bench-intake``, ``bench-worker``), when the server runs on this machine and
    /proc shows its processes (else empty)."""
    if app.extensions["helpdesk"].engine.dialect.name != "postgresql":
        return {}
    with app.extensions["helpdesk"].engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT pid, application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
        ).all()
        return {pid: (name, _cpu_of(pid)) for pid, name in rows if os.path.exists(f"/proc/{pid}")}


def _redis_cpu(app) -> float | None:
    """The Redis server's CPU seconds so far (all its databases: other users' too)."""
    if not app.extensions["helpdesk"].dispatcher.uses_rq:
        return None
    info = app.extensions["helpdesk"].dispatcher.queue.connection.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """The resident set now (Linux), not the peak: what a long-running process holds."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _checkpoints(count: int) -> set[int]:
    """Where memory is printed: after 1,000, 5,000 and 10,000 mails (and at the end)."""
    return {n for n in (1_000, 5_000, 10_000) if n <= count} | {count}


def _print_memory(done: int, baseline: float) -> None:
    line = f"memory at {done:>6} mails  RSS {_rss_mb():.0f} MB, peak {_peak_rss_mb():.0f} MB"
    line += f" (before: {baseline:.0f} MB)"
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        line += f"; Python heap {current / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB"
    print(line, flush=True)


def _no_dns(name: str, timeout: float) -> bytes | None:
    """The sender check's DNS answered at once with "no record" (see --real-dns)."""
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--sqlite-default-journal",
        action="store_true",
        help="SQLite with its default rollback journal and synchronous=FULL (an fsync or more "
        "per commit) instead of WAL with synchronous=NORMAL",
    )
    parser.add_argument("--redis-url", default=None, help="jobs on RQ (default: inline)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="RQ worker processes; 0: the intake side only (store and queue; no job runs)",
    )
    parser.add_argument(
        "--real-dns",
        action="store_true",
        help="let the sender check (DMARC) query DNS; by default it is answered at once with "
        "'no record', so the figures measure the helpdesk, not the network",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python's allocations (current and peak heap at each checkpoint); "
        "slows the run down two to three times",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="cProfile on the CPU clock of the receive calls written to FILE, and of each RQ "
        "worker's run to FILE.worker1, FILE.worker2... (python -m pstats FILE)",
    )
    parser.add_argument(
        "--prebuild",
        action="store_true",
        help="build every mail before the clock starts, after an untimed warm-up of --warmup "
        "mails (so that replies have tickets to answer): the wall time is then the helpdesk's "
        "alone, not also the mix's (building a mail and its reads take a share of a core)",
    )
    parser.add_argument("--warmup", type=int, default=200, help="with --prebuild (default 200)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    workdir = args.workdir or tempfile.mkdtemp(prefix="hd-mailbench-")
    url, wal = shared.database(args.database_url, workdir, args.sqlite_default_journal)
    if args.worker:
        _run_worker(url, workdir, args.redis_url, args.real_dns, args.profile)
        return
    app = _app(url, workdir, args.redis_url, args.real_dns)
    with app.app_context():
        if wal:
            shared.use_wal(db.engine)
        _reset_schema(app)
        workers = []
        if args.redis_url:
            dispatcher = app.extensions["helpdesk"].dispatcher
            dispatcher.queue.empty()
            # Mail ids a previous run left for the drain: the ids are given anew after the reset.
            _drop_drain_keys(dispatcher)
        startup_cpu: list[float] = []
        if args.redis_url and args.workers:
            workers = _start_workers(args, url, workdir)
            _wait_for_workers(app, args.workers)
            # Starting a worker (imports, the app) is paid once, not per mail.
            startup_cpu = [_cpu_of(worker.pid) for worker in workers]
        backends_before = _backends(app)
        redis_before = _redis_cpu(app)
        mix = Mix(args.seed, args.senders, url)
        prebuilt: list[tuple[str, bytes]] | None = None
        finished_before = 0
        if args.prebuild:
            # Untimed: a warm-up whose tickets the timed replies answer, then every timed mail
            # built, so that the clock runs only while the helpdesk works.
            for _ in range(args.warmup):
                intake.receive(mix.next()[1], "pipe")
                db.session.remove()
            if workers:
                _wait_until_done(app, workers)
                startup_cpu = [_cpu_of(worker.pid) for worker in workers]
                finished_before = len(
                    app.extensions["helpdesk"].dispatcher.queue.finished_job_registry
                )
            prebuilt = [mix.next() for _ in range(args.count)]
            backends_before = _backends(app)
            redis_before = _redis_cpu(app)
        shapes: Counter[str] = Counter()
        baseline = _peak_rss_mb()
        checkpoints = _checkpoints(args.count)
        if args.tracemalloc:
            tracemalloc.start()
        elapsed = 0.0
        cpu = 0.0
        total_bytes = 0
        timed_sql = {"statements": 0, "commits": 0}  # of this process (not the RQ workers')
        first = time.perf_counter()
        per_mail: list[float] = []  # CPU of each mail, this process
        by_shape: dict[str, list[float]] = {}  # the same by the mix's shape
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        with shared.SqlCount(app) as sql:
            for done in range(1, args.count + 1):
                shape, raw = prebuilt[done - 1] if prebuilt is not None else mix.next()
                shapes[shape] += 1
                total_bytes += len(raw)
                started, started_cpu = time.perf_counter(), time.process_time()
                counted = {"statements": sql.statements, "commits": sql.commits}
                if profiler is not None:
                    profiler.enable()
                intake.receive(raw, "pipe")
                if profiler is not None:
                    profiler.disable()
                elapsed += time.perf_counter() - started
                cpu += time.process_time() - started_cpu
                per_mail.append(time.process_time() - started_cpu)
                by_shape.setdefault(shape, []).append(per_mail[-1])
                timed_sql = {k: timed_sql[k] + getattr(sql, k) - counted[k] for k in timed_sql}
                db.session.remove()  # as each request or job would: no identity map growing
                if done in checkpoints:
                    _print_memory(done, baseline)
        if profiler is not None:
            profiler.dump_stats(args.profile)
        intake_cpu = cpu
        backend_cpu = None
        finished = None
        worker_cpu: list[float] = []
        if workers:
            _wait_until_done(app, workers)
            # Wall time to the last job, the mails' building too unless --prebuild.
            elapsed = time.perf_counter() - first
            backends_after = _backends(app)
            worker_cpu = [
                end - start for end, start in zip(_stop_workers(workers), startup_cpu, strict=True)
            ]
            cpu += sum(worker_cpu)
            # RQ keeps finished jobs for a while (result_ttl, 500 s): how many jobs the mails were.
            finished = (
                len(app.extensions["helpdesk"].dispatcher.queue.finished_job_registry)
                - finished_before
            )
        else:
            backends_after = _backends(app)
        if args.redis_url and not args.workers:  # the intake side only; queued jobs dropped
            queue = app.extensions["helpdesk"].dispatcher.queue
            print(f"queued jobs        {queue.count} (dropped: no worker ran)")
            queue.empty()
            _drop_drain_keys(app.extensions["helpdesk"].dispatcher)
        redis_after = _redis_cpu(app)
        by_role: Counter[str] = Counter()
        mix_cpu = 0.0
        if backends_after:  # a server process gone meanwhile is not counted
            for pid, (name, cpu_now) in backends_after.items():
                by_role[name or "other"] += cpu_now - backends_before.get(pid, ("", 0.0))[1]
            # The mix's reads (which ticket to answer) are the benchmark's, not the intake's.
            mix_cpu = by_role.pop("bench-mix", 0.0)
            backend_cpu = sum(by_role.values())
        statuses = Counter(
            dict(
                db.session.execute(
                    select(InboundMail.status, func.count()).group_by(InboundMail.status)
                ).all()
            )
        )
        tickets = db.session.scalar(select(func.count()).select_from(Ticket))
        messages = db.session.scalar(select(func.count()).select_from(Message))

    jobs = f"RQ, {args.workers} workers" if args.redis_url else "inline"
    jobs = "RQ, intake side only (no worker)" if args.redis_url and not args.workers else jobs
    print(shared.database_line(url, wal, jobs))
    print(
        f"mails              {args.count} ({total_bytes / 1e6:.1f} MB raw)"
        + (f", built before the clock after {args.warmup} untimed" if args.prebuild else "")
    )
    print("mix                " + ", ".join(f"{k} {v}" for k, v in sorted(shapes.items())))
    print("outcome            " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
          + f"; {tickets} tickets, {messages} messages"
          + (" (the warm-up's too)" if args.prebuild else ""))  # fmt: skip
    if finished is not None:
        print(f"RQ jobs run        {finished} ({finished / args.count:.2f} a mail)")
    print(f"time               {elapsed:.1f} s")
    print(f"messages/second    {args.count / elapsed:.1f}")
    # On a busy machine wall time says more about the neighbours than about the helpdesk;
    # this process's CPU time does not (the database server's own work is not in it).
    workers_note = " (workers from the first mail: their start-up not counted)" if workers else ""
    print(f"CPU time           {cpu:.1f} s ({args.count / cpu:.1f} messages per CPU-second)"
          + workers_note)  # fmt: skip
    per_mail_ms = 1000 / args.count
    if worker_cpu:
        print(f"CPU by process     intake {intake_cpu * per_mail_ms:.2f} ms a mail, workers "
              + ", ".join(f"{w * per_mail_ms:.2f}" for w in worker_cpu)
              + f" (together {sum(worker_cpu) * per_mail_ms:.2f})")  # fmt: skip
    if by_role:
        print("PostgreSQL by user " + ", ".join(
            f"{name.removeprefix('bench-')} {v * per_mail_ms:.2f} ms" for name, v in sorted(
                by_role.items())) + " a mail"
              + f" (not counted: the mix's reads, {mix_cpu * per_mail_ms:.2f} ms)")  # fmt: skip
    if redis_before is not None and redis_after is not None:
        print(f"Redis server       {(redis_after - redis_before) * per_mail_ms:.2f} ms CPU a mail"
              " (the whole server: other users' databases too)")  # fmt: skip
    if backend_cpu is not None:
        both = cpu + backend_cpu
        print(f"PostgreSQL server  {backend_cpu:.1f} s CPU (its processes for this database); "
              f"with it {both * 1000 / args.count:.1f} ms a mail, "
              f"{args.count / both:.1f} messages per CPU-second")  # fmt: skip
    # The median mail is steadier than the total when neighbours come and go (a busy machine
    # slows every mail a little, a few mails a lot); the mix is the same for a given seed.
    deciles = statistics.quantiles(per_mail, n=10)
    print(f"CPU a mail         median {statistics.median(per_mail) * 1000:.2f} ms, "
          f"p10 {deciles[0] * 1000:.2f}, p90 {deciles[-1] * 1000:.2f} (this process)")  # fmt: skip
    print("CPU by shape       median ms: " + ", ".join(
        f"{shape} {statistics.median(cpus) * 1000:.2f}" for shape, cpus in sorted(by_shape.items())
    ))  # fmt: skip
    print(f"SQL                {timed_sql['statements'] / args.count:.1f} statements and "
          f"{timed_sql['commits'] / args.count:.2f} commits a mail (this process)")  # fmt: skip
    print(shared.load_line())
    print(f"peak memory (RSS)  {_peak_rss_mb():.0f} MB (before ingesting: {baseline:.0f} MB)")


if __name__ == "__main__":
    main()
