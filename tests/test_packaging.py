"""``pip install flask-helpdesk`` must bring everything the helpdesk needs at run time: templates,
static files, compiled translations and the Alembic migrations, and nothing from a dev tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flask_helpdesk import migrations

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_helpdesk"
DATA_FOLDERS = ("templates", "static", "translations", "migrations")
JUNK = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "instance"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a clean copy of the tree (a stale build/ must not hide a gap)."""
    source = tmp_path_factory.mktemp("source") / "flask-helpdesk"
    shutil.copytree(ROOT, source, ignore=JUNK)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("flask_helpdesk-*.whl")
    return built


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def source_files(folder: str) -> set[str]:
    base = PACKAGE / folder
    return {
        str(path.relative_to(ROOT))
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("folder", DATA_FOLDERS)
def test_wheel_carries_every_data_file(wheel, folder):
    missing = source_files(folder) - wheel_names(wheel)
    assert not missing, f"not in the wheel: {sorted(missing)}"


def test_wheel_has_the_essentials(wheel):
    names = wheel_names(wheel)
    for required in (
        "flask_helpdesk/py.typed",
        "flask_helpdesk/templates/helpdesk/layout.html",
        "flask_helpdesk/static/helpdesk/helpdesk.css",
        "flask_helpdesk/migrations/env.py",
        "flask_helpdesk/migrations/script.py.mako",
        "flask_helpdesk/migrations/versions/0001_initial.py",
    ):
        assert required in names


def test_every_catalogue_is_compiled_into_the_wheel(wheel):
    """A .po without its .mo would silently show English to that language's users."""
    names = wheel_names(wheel)
    catalogues = sorted((PACKAGE / "translations").rglob("*.po"))
    for po in catalogues:
        mo = po.with_suffix(".mo").relative_to(ROOT)
        assert str(mo) in names, f"{mo} missing from the wheel"


def test_wheel_carries_no_dev_leftovers(wheel):
    names = wheel_names(wheel)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.startswith(("tests/", "example_app/"))]


def test_migrations_run_from_the_unpacked_wheel(wheel, tmp_path):
    """Alembic finds its scripts inside an installed package, not only in this checkout."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from flask_helpdesk import migrations;"
        "assert str(migrations.MIGRATIONS_DIR).startswith(sys.argv[1]), migrations.MIGRATIONS_DIR;"
        "print(migrations.head())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == migrations.head()
