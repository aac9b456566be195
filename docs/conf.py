"""Sphinx configuration of the flask-helpdesk docs.

Build them with ``sphinx-build -W -b html docs docs/_build/html`` (``tests/test_docs.py`` does,
so a warning fails the suite). ``_ext/helpdesk_config.py`` renders the configuration tables with
the defaults read from ``flask_helpdesk/config.py``.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

project = "flask-helpdesk"
author = "flask-helpdesk contributors"
extensions = ["sphinx.ext.autodoc", "helpdesk_config"]
exclude_patterns = ["_build", "examples"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px"}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
