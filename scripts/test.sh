#!/usr/bin/env bash
# Set up and run the whole suite: unit and HTTP tests on SQLite and PostgreSQL,
# and the Playwright tests in headless Debian Chromium. With CI=true the
# PostgreSQL and browser runs are mandatory: missing services fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing Debian's chromium for the browser tests"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "test: could not install chromium (browser tests will skip, or fail with CI=true)"
fi

if [ -z "${LIMS_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test: starting the local PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi

# Format and lint first: a tree that fails them does not reach the tests.
# LIMS_SKIP_LINT=1 skips them for a quick local rerun of some tests (CI never sets it).
if [ "${LIMS_SKIP_LINT:-}" != 1 ] || [ "${CI:-}" = true ]; then
  bash scripts/lint.sh
fi

exec .venv/bin/python -m pytest "$@"
