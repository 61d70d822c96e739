#!/usr/bin/env bash
# Set up, migrate, load the demo lab and serve it at http://127.0.0.1:5000 (SQLite by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FLASK_APP=wsgi
.venv/bin/flask --app wsgi lims init
.venv/bin/flask --app wsgi lims demo-data
PORT=${LIMS_PORT:-5000}
# The scheduler is its own process (never inside the web workers, so no job runs twice).
.venv/bin/flask --app wsgi lims scheduler &
SCHEDULER=$!
trap 'kill "$SCHEDULER" 2>/dev/null' EXIT INT TERM
echo "LIMS running at http://127.0.0.1:${PORT} with the scheduler (Ctrl+C stops both)"
.venv/bin/gunicorn --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 --access-logfile - wsgi:app
