#!/usr/bin/env bash
# Set up, migrate, load the demo lab and serve it at http://127.0.0.1:5000 (SQLite by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FLASK_APP=wsgi
.venv/bin/flask --app wsgi lims init
.venv/bin/flask --app wsgi lims demo-data
PORT=${LIMS_PORT:-5000}
echo "LIMS running at http://127.0.0.1:${PORT} (Ctrl+C stops it)"
exec .venv/bin/gunicorn --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 --access-logfile - wsgi:app
