"""Sphinx configuration of the flask-helpdesk docs (minimal; pages are plain reStructuredText)."""

project = "flask-helpdesk"
author = "flask-helpdesk contributors"
extensions: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
