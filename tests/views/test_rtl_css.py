"""Persian pages mirror through the markup's ``dir`` alone: the stylesheet and the templates' inline
styles use logical properties (``margin-inline-start``), never left/right ones that would stay
on the wrong side of a right-to-left page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "flask_helpdesk"
PHYSICAL = re.compile(
    r"(?<![\w-])(?:margin|padding|border)-(?:left|right)\b"
    r"|(?<![\w-])(?:left|right)\s*:"
    r"|(?:float|clear|text-align)\s*:\s*(?:left|right)\b"
    r"|border-(?:top|bottom)-(?:left|right)-radius"
)

STYLE = re.compile(r'style="([^"]*)"|<style[^>]*>(.*?)</style>', re.DOTALL)


def styled_files() -> list[Path]:
    return sorted(PACKAGE.glob("static/**/*.css")) + sorted(
        path
        for path in PACKAGE.glob("templates/helpdesk/**/*.html")
        if "/mail/" not in str(path)  # mail clients ignore logical properties; mail sets dir
    )


def test_the_pattern_catches_physical_properties():
    physical = (
        "margin-left: 1rem",
        "padding-right:0",
        "left: 0",
        "float: right",
        "text-align:left",
    )
    for css in physical:
        assert PHYSICAL.search(css), css
    for css in ("margin-inline-start: 1rem", "inset-inline-end: 0", "text-align: start"):
        assert not PHYSICAL.search(css), css


@pytest.mark.parametrize("path", styled_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_styles_use_logical_properties(path):
    text = path.read_text()
    if path.suffix == ".html":  # only what is inside style attributes and <style> blocks
        text = " ".join(part for match in STYLE.findall(text) for part in match)
    found = sorted({m.group(0) for m in PHYSICAL.finditer(text)})
    assert not found, f"{path.name} uses {found}; use the logical property instead"
