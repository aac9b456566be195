"""The demo (``example_app/run``) prints the port it really serves on: 5000, or the next free
port when something already listens on 5000; a ``PORT`` in use is refused with a clear word."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from example_app import port as demo_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def busy_port() -> Iterator[int]:
    """A port something listens on, like a forgotten server on 5000."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_busy_default_port_gives_the_next_free_one(monkeypatch):
    with busy_port() as taken:
        monkeypatch.setattr(demo_port, "DEFAULT_PORT", taken)
        chosen = demo_port.choose_port(None)
        assert chosen != taken and demo_port.is_free(chosen)


def test_a_busy_port_asked_for_is_refused_clearly():
    with busy_port() as taken:
        with pytest.raises(SystemExit, match=f"port {taken} is in use"):
            demo_port.choose_port(str(taken))
        run = subprocess.run(
            [sys.executable, "-m", "example_app.port", str(taken)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    assert run.returncode == 1 and "PORT=" in run.stderr and run.stdout == ""


def test_the_run_script_prints_the_port_it_chose():
    script = (ROOT / "example_app" / "run").read_text()
    chosen_at = script.index('PORT=$("$VENV/bin/python" -m example_app.port')
    assert chosen_at < script.index("HELPDESK_EXTERNAL_URL:-http://127.0.0.1:$PORT")
    assert chosen_at < script.index("Starting the demo on http://127.0.0.1:$PORT")
    assert "PORT=${PORT:-5000}" not in script
