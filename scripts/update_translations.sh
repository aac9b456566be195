#!/usr/bin/env bash
# Refresh the helpdesk's message catalogues: extract every marked string into
# flask_helpdesk/translations/messages.pot, merge it into each language's messages.po, then
# compile the .mo files that ship in the wheel. Run it from anywhere; commit the .pot, .po and .mo.
#
#   scripts/update_translations.sh            extract + update + compile
#   scripts/update_translations.sh compile    compile only (after editing a .po)
#   scripts/update_translations.sh extract F  write the template to F only (used by the tests)
#
# New strings arrive in each .po empty; translate them (tests/test_i18n.py fails until every
# entry of every language is translated and not fuzzy).
set -euo pipefail

cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-pybabel}"
if ! command -v "$PYBABEL" >/dev/null 2>&1; then
    PYBABEL="$(dirname "$(command -v python3)")/pybabel"
fi
TRANSLATIONS=flask_helpdesk/translations
POT="$TRANSLATIONS/messages.pot"
LANGUAGES=(vi fa)
# The names under which code calls the helpdesk's i18n functions (flask_helpdesk/i18n.py),
# including the aliases modules import them as (``lazy_gettext as _l``).
KEYWORDS=(-k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k lazy_ngettext:1,2 -k N_ -k _l -k _ln:1,2)

extract() {
    mkdir -p "$(dirname "$1")"
    local fresh
    fresh="$(mktemp)"
    "$PYBABEL" --quiet extract -F babel.cfg --no-default-keywords "${KEYWORDS[@]}" \
        --project=flask-helpdesk --copyright-holder="flask-helpdesk contributors" \
        --sort-by-file --add-location=file --width=100 \
        -o "$fresh" flask_helpdesk
    # Keep the old file when only the creation date differs: no churn in .pot/.po/.mo diffs.
    if [[ -f "$1" ]] && diff -q <(grep -v '^"POT-Creation-Date' "$1") \
        <(grep -v '^"POT-Creation-Date' "$fresh") >/dev/null; then
        rm -f "$fresh"
    else
        mv "$fresh" "$1" && chmod 644 "$1"
    fi
}

compile_all() {
    "$PYBABEL" compile --statistics -d "$TRANSLATIONS" -D messages
}

case "${1:-all}" in
    extract)
        extract "${2:?usage: $0 extract OUTPUT.pot}"
        ;;
    compile)
        compile_all
        ;;
    all)
        extract "$POT"
        for lang in "${LANGUAGES[@]}"; do
            po="$TRANSLATIONS/$lang/LC_MESSAGES/messages.po"
            if [[ -f "$po" ]]; then
                "$PYBABEL" --quiet update -i "$POT" -d "$TRANSLATIONS" -D messages -l "$lang" \
                    --ignore-obsolete --width=100
            else
                "$PYBABEL" --quiet init -i "$POT" -d "$TRANSLATIONS" -D messages -l "$lang" \
                    --width=100
            fi
        done
        compile_all
        ;;
    *)
        echo "usage: $0 [all|compile|extract OUTPUT.pot]" >&2
        exit 2
        ;;
esac
