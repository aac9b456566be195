"""Which port the demo serves on (``example_app/run``): ``PORT`` if given, else 5000 or, when
something already listens there, the next free port, so the address the script prints is the
one the demo really answers on.

    python -m example_app.port [PORT]    # prints the port to use; exits 1 if PORT is taken
"""

from __future__ import annotations

import socket
import sys

DEFAULT_PORT = 5000
HOST = "127.0.0.1"


def is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(wanted: str | None, host: str = HOST) -> int:
    """*wanted* (``PORT``) when free, else an error; no *wanted*: 5000 or the next free one."""
    if wanted:
        port = int(wanted)
        if not is_free(port, host):
            raise SystemExit(f"port {port} is in use: choose another one with PORT=...")
        return port
    for port in range(DEFAULT_PORT, DEFAULT_PORT + 100):
        if is_free(port, host):
            return port
    raise SystemExit(f"no free port from {DEFAULT_PORT}: choose one with PORT=...")


if __name__ == "__main__":
    print(choose_port(sys.argv[1] if len(sys.argv) > 1 else None))
