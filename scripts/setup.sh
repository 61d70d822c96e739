#!/usr/bin/env bash
# Set up everything the LIMS needs on a fresh Debian/Ubuntu machine. Idempotent.
#   bash scripts/setup.sh          runtime dependencies
#   bash scripts/setup.sh --dev    plus the test tools (pytest, Playwright driver)
set -euo pipefail
cd "$(dirname "$0")/.."

REQ=requirements.txt
[ "${1:-}" = "--dev" ] && REQ=requirements-dev.txt

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {  # apt_install PACKAGE... (only when missing)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]} with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

PY=${PYTHON:-python3}
if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
  apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
STAMP=.venv/.installed-$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$(basename "$REQ" .txt)
if [ ! -f "$STAMP" ]; then
  echo "setup: installing $REQ"
  .venv/bin/pip install -q --disable-pip-version-check -r "$REQ"
  touch "$STAMP"
fi
.venv/bin/python -m lims.i18n_build compile >/dev/null
mkdir -p instance

# The PDF reports embed a TrueType font with Chinese glyphs (WenQuanYi Micro Hei, Apache-2.0): taken
# from Debian's package into instance/fonts, so no font is assumed on the machine and no root is needed.
FONT=instance/fonts/wqy-microhei.ttc
SYSTEM_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [ ! -s "$FONT" ]; then
  mkdir -p instance/fonts
  if [ ! -s "$SYSTEM_FONT" ]; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download fonts-wqy-microhei >/dev/null 2>&1) \
        && dpkg-deb -x "$tmp"/fonts-wqy-microhei_*.deb "$tmp/x"; then
      SYSTEM_FONT="$tmp/x$SYSTEM_FONT"
    else
      apt_install fonts-wqy-microhei
    fi
  fi
  cp "$SYSTEM_FONT" "$FONT"
  echo "setup: report font installed at $FONT"
  rm -rf "${tmp:-/nonexistent}"
fi
