#!/usr/bin/env bash
# The PostgreSQL half of the suite, on TEST_DATABASE_URL (default: the local server).
# When CI=true an unreachable server fails the run; elsewhere it is reported and skipped.
set -uo pipefail
url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/huzhu}"
if ! .venv/bin/python - "$url" <<'PY'
import sys

import dj_database_url
import psycopg

cfg = dj_database_url.parse(sys.argv[1])
try:
    psycopg.connect(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
                    user=cfg["USER"] or "postgres", password=cfg["PASSWORD"] or None,
                    dbname="postgres", connect_timeout=5).close()
except Exception as exc:
    print(f"PostgreSQL unreachable at {sys.argv[1]}: {exc}")
    sys.exit(1)
PY
then
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true and PostgreSQL is unreachable: failing."
    exit 1
  fi
  echo "PostgreSQL unreachable: the PostgreSQL half of the suite did NOT run."
  exit 0
fi
set -e
DATABASE_URL="$url" .venv/bin/pytest -p no:cacheprovider --cov --cov-report=term:skip-covered \
  --cov-report=xml:test-output/coverage-postgres.xml "$@"
