#!/usr/bin/env bash
# `make compose-smoke`: the compose stack end to end, wherever a Docker engine runs.
#
# Builds and starts compose.yml under its own project name (its own volumes), waits for https://localhost
# (the `lb` service), opens the SSE stream, creates one product through the API and waits until its
# ProductCreated event is in DynamoDB Local (the notifier's event log), in MinIO (the archive) and on the
# SSE stream; then tears everything down, volumes included. Needs host ports 443 and 80 free.
# KEEP=1 leaves the stack running; SMOKE_TIMEOUT_S bounds every wait (default 300).
set -euo pipefail

cd "$(dirname "$0")/.."
project=${SMOKE_PROJECT:-inventory-smoke}
timeout_s=${SMOKE_TIMEOUT_S:-300}
base=https://localhost
work=$(mktemp -d "${TMPDIR:-/tmp}/compose-smoke.XXXXXX")
sse_pid=""
started=$(date +%s)

log() { echo "[compose-smoke $(($(date +%s) - started))s] $*"; }

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose -p "$project" -f compose.yml)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose -p "$project" -f compose.yml)
else
  echo "compose-smoke: neither 'docker compose' nor docker-compose is installed." >&2
  exit 2
fi
if ! docker info >/dev/null 2>&1; then
  echo "compose-smoke: no Docker engine answers ('docker info' fails): nothing to run here." >&2
  exit 2
fi

cleanup() {
  [ -z "$sse_pid" ] || kill "$sse_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    log "KEEP=1: stack left running (${compose[*]} down -v stops it)"
  else
    "${compose[@]}" logs --no-color --tail 200 >"$work/compose.log" 2>&1 || true
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    log "stack down; last logs in $work/compose.log"
  fi
}
trap cleanup EXIT

wait_until() {
  # wait_until DESCRIPTION COMMAND...: retries COMMAND every 2 s until it succeeds or the timeout passes.
  local description=$1 deadline=$(($(date +%s) + timeout_s))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      log "FAIL: $description not within ${timeout_s}s"
      exit 1
    fi
    sleep 2
  done
  log "ok: $description"
}

log "building and starting the stack (project $project)"
"${compose[@]}" up --build -d --scale app=2 --scale notifier=2

# -k: the certificate comes from Caddy's local CA, which this host does not trust.
wait_until "https://localhost/api/health through the load balancer" curl -kfsS "$base/api/health"
wait_until "the UI page through the load balancer" curl -kfsS "$base/"

# Sign-in: an admin and an API token from the app's CLI (as an operator does on first run).
"${compose[@]}" exec -T app python -m inventory_app.cli users create --role admin smoke@example.com \
  --generate-password >/dev/null
token=$("${compose[@]}" exec -T app python -m inventory_app.cli tokens create --user smoke@example.com \
  --name compose-smoke 2>/dev/null | tail -n 1 | tr -d '\r')
auth=(-H "Authorization: Bearer $token")
log "ok: admin and API token created"
if curl -ksS -o /dev/null -w '%{http_code}' "$base/api/products" | grep -qx 401; then
  log "ok: the API refuses a caller without credentials"
else
  log "FAIL: the API answered a caller without credentials"; exit 1
fi

curl -kNsS "${auth[@]}" "$base/api/notifications/stream" >"$work/sse.log" 2>&1 &
sse_pid=$!
sleep 2

sku="SMOKE-$(date +%s)-$$"
status=$(curl -ksS -o "$work/created.json" -w '%{http_code}' "${auth[@]}" \
  -H 'Content-Type: application/json' -H 'Origin: https://localhost' \
  -d "{\"sku\": \"$sku\", \"name\": \"Compose smoke\", \"price\": \"1.00\", \"quantity\": 3}" \
  "$base/api/products")
[ "$status" = 201 ] || {
  log "FAIL: POST /api/products answered $status: $(cat "$work/created.json")"
  exit 1
}
product_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/created.json")
log "ok: product $sku created ($product_id)"

# Checked from inside an app container, with the app's own settings, against the stores themselves.
store_check() {
  "${compose[@]}" exec -T -e SMOKE_PRODUCT_ID="$product_id" -e SMOKE_STORE="$1" app python - <<'EOF'
import gzip
import os
import sys

import boto3

from inventory_app.settings import get_settings

settings = get_settings()
product_id = os.environ["SMOKE_PRODUCT_ID"]
common = {
    "region_name": settings.aws_region,
    "aws_access_key_id": settings.aws_access_key_id,
    "aws_secret_access_key": settings.aws_secret_access_key,
}
if os.environ["SMOKE_STORE"] == "dynamodb":
    client = boto3.client("dynamodb", endpoint_url=settings.dynamodb_endpoint_url, **common)
    items = client.query(
        TableName=settings.dynamodb_events_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PRODUCT#{product_id}"}},
    )["Items"]
    sys.exit(0 if any("ProductCreated" in item["event"]["S"] for item in items) else 1)
client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, **common)
for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_archive_bucket):
    for entry in page.get("Contents", []):
        body = client.get_object(Bucket=settings.s3_archive_bucket, Key=entry["Key"])["Body"].read()
        if product_id.encode() in gzip.decompress(body):
            sys.exit(0)
sys.exit(1)
EOF
}

wait_until "the ProductCreated event in DynamoDB Local" store_check dynamodb
wait_until "the event in the MinIO archive" store_check s3
wait_until "the notice on the SSE stream" grep -q "$sku" "$work/sse.log"

log "PASS: product -> outbox -> Kafka -> notifier -> DynamoDB + S3 + SSE, through TLS and two app containers"
