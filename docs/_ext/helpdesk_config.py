"""The ``helpdesk-config`` directive: configuration tables whose defaults come from the code.

In ``docs/configuration.rst`` each key is written with its meaning::

    .. helpdesk-config::

       HELPDESK_URL_PREFIX
          Where the customer portal is mounted.

and rendered as a table of key, default (read from ``flask_helpdesk.config.DEFAULTS``, so it
never goes stale) and meaning. When the build finishes, every key of ``DEFAULTS`` must have been
documented exactly once: an undocumented or unknown key is a warning, which fails
``sphinx-build -W`` (and ``tests/test_docs.py`` checks the same without Sphinx).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

KEY_LINE = re.compile(r"^(HELPDESK_[A-Z0-9_]+)\s*$")
DIRECTIVE = re.compile(r"^\.\. helpdesk-config::\s*$")


def parse_entries(lines: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Split a directive's content into ``(key, description lines)`` pairs.

    A key stands alone on a line at the content's left margin; its description is the indented
    block under it.
    """
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        match = KEY_LINE.match(line)
        if match:
            entries.append((match.group(1), []))
        elif entries:
            entries[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"text before the first HELPDESK_ key: {line!r}")
    return [(key, _dedent(body)) for key, body in entries]


def _dedent(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def documented_keys(rst_text: str) -> list[str]:
    """Every key documented by the ``helpdesk-config`` directives of one reST file."""
    keys: list[str] = []
    inside = False
    block: list[str] = []
    for line in [*rst_text.splitlines(), ""]:
        if DIRECTIVE.match(line):
            inside, block = True, []
            continue
        if inside:
            if line.strip() and not line.startswith(" "):
                keys += [key for key, _ in parse_entries(_dedent(block))]
                inside = False
            else:
                block.append(line)
    if inside:
        keys += [key for key, _ in parse_entries(_dedent(block))]
    return keys


def documented_keys_in(folder: Path) -> list[str]:
    return [
        key for path in sorted(folder.glob("*.rst")) for key in documented_keys(path.read_text())
    ]


def format_default(value: Any) -> str:
    """The default as a reader would write it in their config."""
    if isinstance(value, frozenset):
        return "{" + ", ".join(repr(item) for item in sorted(value)) + "}"
    if isinstance(value, timedelta):
        hours, rest = divmod(int(value.total_seconds()), 3600)
        return (
            f"timedelta(hours={hours})"
            if not rest
            else f"timedelta(seconds={int(value.total_seconds())})"
        )
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 1024 * 1024
        and value % (1024 * 1024) == 0
    ):
        return f"{value // (1024 * 1024)} * 1024 * 1024"
    return repr(value)


def _documented(env: Any) -> dict[str, str]:
    """Key -> the document that describes it, kept on the (pickled) build environment."""
    if not hasattr(env, "helpdesk_config_documented"):
        env.helpdesk_config_documented = {}
    return env.helpdesk_config_documented


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    from flask_helpdesk.config import DEFAULTS

    logger = logging.getLogger(__name__)

    class HelpdeskConfig(SphinxDirective):
        has_content = True

        def run(self) -> list[Any]:
            try:
                entries = parse_entries(_dedent(list(self.content)))
            except ValueError as error:
                raise self.error(str(error)) from None
            rows: list[str] = [".. list-table::", "   :header-rows: 1", "   :widths: 30 25 45", ""]
            rows += ["   * - Key", "     - Default", "     - Meaning"]
            for key, body in entries:
                if key not in DEFAULTS:
                    logger.warning(
                        "%s is documented but not in flask_helpdesk.config.DEFAULTS",
                        key,
                        location=self.get_location(),
                    )
                    default = "?"
                else:
                    default = format_default(DEFAULTS[key])
                if not any(line.strip() for line in body):
                    logger.warning("%s has no description", key, location=self.get_location())
                documented = _documented(self.env)
                if key in documented and documented[key] != self.env.docname:
                    logger.warning(
                        "%s is documented twice (also in %s)",
                        key,
                        documented[key],
                        location=self.get_location(),
                    )
                documented[key] = self.env.docname
                rows += [f"   * - ``{key}``", f"     - ``{default}``"]
                first, *rest = body or [""]
                rows.append(f"     - {first}")
                rows += [f"       {line}" if line.strip() else "" for line in rest]
            container = nodes.container(classes=["helpdesk-config"])
            self.state.nested_parse(
                StringList(rows, source=self.get_source_info()[0]), self.content_offset, container
            )
            return [container]

    def forget_document(app: Any, env: Any, docname: str) -> None:
        documented = _documented(env)
        for key in [k for k, doc in documented.items() if doc == docname]:
            del documented[key]

    def check_complete(app: Any, env: Any) -> None:
        documented = _documented(env)
        missing = sorted(set(DEFAULTS) - set(documented))
        for key in missing:
            logger.warning(
                "%s (flask_helpdesk/config.py) is not documented: add it to a "
                ".. helpdesk-config:: table in docs/configuration.rst",
                key,
            )

    app.add_directive("helpdesk-config", HelpdeskConfig)
    app.connect("env-purge-doc", forget_document)
    app.connect("env-check-consistency", check_complete)
    return {
        "version": "1",
        "parallel_read_safe": False,
        "parallel_write_safe": True,
        "env_version": 1,
    }
