"""A private dovecot IMAP server for tests: own config, own port, own maildir, in a tmp dir.

Started as a subprocess (``dovecot -F``), listening on 127.0.0.1 with plaintext auth (IMAP,
STARTTLS) and IMAPS with a self-signed certificate made by ``openssl`` for the test. Nothing of
the machine's own dovecot setup is read or touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

IMAP_VARIABLE = "HELPDESK_TEST_IMAP"


def dovecot_binary() -> str | None:
    """``$HELPDESK_TEST_IMAP`` (CI sets it), else dovecot on PATH or in /usr/sbin."""
    configured = os.environ.get(IMAP_VARIABLE)
    if configured:
        return configured
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ImapServer:
    host: str
    port: int
    ssl_port: int
    username: str
    password: str
    root: Path
    store: Path
    process: subprocess.Popen

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{store}/mail/%u
{users_setting}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {store}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {store}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def start_dovecot(binary: str, root: Path) -> ImapServer:
    """Write a config under *root*, start dovecot in the foreground, wait for the port."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("run", "state", "mail"):
        (root / folder).mkdir(exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    uid, gid = os.getuid(), os.getgid()
    # The mail store lives in a world-traversable folder of its own: when the tests run as
    # root, mail belongs to "nobody" (dovecot never delivers as root) and must be reachable.
    store = Path(tempfile.mkdtemp(prefix="helpdesk-imap-"))
    store.chmod(0o755)
    if uid == 0:
        mail_uid, mail_gid = 65534, 65534
        os.chown(store, mail_uid, mail_gid)
        users_setting = "first_valid_uid = 100"  # login processes drop to dovenull as usual
    else:
        mail_uid, mail_gid = uid, gid
        user = pwd.getpwuid(uid).pw_name
        users_setting = (
            f"default_login_user = {user}\ndefault_internal_user = {user}\nfirst_valid_uid = {uid}"
        )
    username, password = "support", "s3cret-imap"
    # Read by dovecot's unprivileged auth process: next to the mail, not in the 0700 tmp dir.
    (store / "users").write_text(
        f"{username}:{{PLAIN}}{password}:{mail_uid}:{mail_gid}::{store}/home/{username}\n"
    )
    port, ssl_port = _free_port(), _free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root, store=store, port=port, ssl_port=ssl_port, users_setting=users_setting
        )
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    server = ImapServer("127.0.0.1", port, ssl_port, username, password, root, store, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"dovecot exited: {output}\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"dovecot did not start: {server.log()}")


def stop_dovecot(server: ImapServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    shutil.rmtree(server.store, ignore_errors=True)
