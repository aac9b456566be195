"""The shipped catalogues are complete and current.

These fail when someone marks a new string without running ``scripts/update_translations.sh``,
when a language has untranslated or fuzzy entries, when a compiled ``.mo`` is older than its
``.po``, or when code imports an i18n function under a name pybabel does not extract.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_helpdesk"
TRANSLATIONS = PACKAGE / "translations"
SCRIPT = ROOT / "scripts" / "update_translations.sh"
LANGUAGES = ["vi", "fa"]
HOW_TO_FIX = "run scripts/update_translations.sh, translate the new entries, commit .pot/.po/.mo"


def _pybabel() -> str:
    found = Path(sys.executable).with_name("pybabel")
    return str(found) if found.exists() else (shutil.which("pybabel") or "pybabel")


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog: Catalog) -> set:
    return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in catalog if m.id}


def _translations(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """msgid -> translated forms (read_po gives plural forms as a tuple, read_mo as a list)."""
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): tuple(
            [m.string] if isinstance(m.string, str) else m.string
        )
        for m in catalog
        if m.id
    }


def _po(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """What the code marks today, extracted the way the script does it."""
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    result = subprocess.run(
        ["bash", str(SCRIPT), "extract", str(out)],
        env={**os.environ, "PYBABEL": _pybabel()},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return _read_po(out)


def test_template_has_every_marked_string(extracted):
    committed = _ids(_read_po(TRANSLATIONS / "messages.pot"))
    now = _ids(extracted)
    missing = sorted(str(i) for i in now - committed)
    stale = sorted(str(i) for i in committed - now)
    assert not missing, f"messages.pot misses {missing}: {HOW_TO_FIX}"
    assert not stale, f"messages.pot has strings no code uses {stale}: {HOW_TO_FIX}"


def test_extraction_finds_labels_departments_and_templates(extracted):
    """Guard the extraction setup itself (keywords, template globs), not only its output."""
    ids = _ids(extracted)
    for msgid in ("Customer replied", "Urgent", "Revenue & reconciliation", "Close ticket"):
        assert (None, msgid) in ids, msgid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_is_complete(lang):
    template = _read_po(TRANSLATIONS / "messages.pot")
    catalog = _read_po(_po(lang), locale=lang)
    assert catalog.num_plurals == 1, "vi and fa have one plural form (nplurals=1)"
    assert _ids(catalog) == _ids(template), f"{lang} .po is not up to date: {HOW_TO_FIX}"
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(message.id)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wrong_count = message.pluralizable and len(strings) != catalog.num_plurals
        if wrong_count or not all(strings):
            untranslated.append(message.id)
    assert not untranslated, f"{lang}: untranslated {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy (review, then drop the flag) {fuzzy}"
    # Placeholders must survive translation: "%(code)s" missing would crash at render time.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems, f"{lang}: {problems}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_matches_its_source(lang):
    catalog = _read_po(_po(lang), locale=lang)
    with _po(lang).with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)
    source, shipped = _translations(catalog), _translations(compiled)
    assert shipped == source, f"{lang}: messages.mo is stale, run scripts/update_translations.sh"


def _script_keywords() -> set[str]:
    text = SCRIPT.read_text()
    return {name for name in re.findall(r"-k (\w+)", text)}


def test_every_name_of_an_i18n_function_is_extracted():
    """``from ..i18n import lazy_gettext as _lx`` would hide strings from pybabel: forbid it,
    and forbid Flask-Babel's own gettext (it reads the host's catalogue, not ours)."""
    keywords = _script_keywords()
    marking = {"_", "gettext", "ngettext", "lazy_gettext", "lazy_ngettext", "N_"}
    unknown, foreign = [], []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            for alias in node.names:
                name = alias.asname or alias.name
                if module.endswith("i18n") and alias.name in marking and name not in keywords:
                    unknown.append(f"{path.relative_to(ROOT)}: {name}")
                if module == "flask_babel" and alias.name in marking:
                    foreign.append(f"{path.relative_to(ROOT)}: {alias.name}")
    assert not unknown, f"add these names to KEYWORDS in {SCRIPT.name}: {unknown}"
    assert not foreign, f"use flask_helpdesk.i18n, not Flask-Babel's gettext: {foreign}"
