#!/usr/bin/env bash
# Message catalogues (lims/i18n_build.py, the Babel library; no pybabel needed).
#   bash scripts/i18n.sh update    extract lims/**.py + templates/**.html into lims/translations/messages.pot,
#                                  merge into each messages.po (new msgids untranslated), list what to translate
#   bash scripts/i18n.sh compile   compile each messages.po newer than its .mo (the .mo files are not in git)
#   bash scripts/i18n.sh check     exit 1 if any msgid in the sources has no translation
#   bash scripts/i18n.sh extract   print the extracted catalogue (.pot) to stdout
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  update|compile|check|extract) exec .venv/bin/python -m lims.i18n_build "$@" ;;
  *) echo "usage: bash scripts/i18n.sh update|compile|check|extract" >&2; exit 2 ;;
esac
