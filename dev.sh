#!/usr/bin/env bash
# One entry point for a fresh Debian machine with Python 3.11:
#   ./dev.sh run    set up .venv and run flagbot on the embedded default (offline demo)
#   ./dev.sh test   set up .venv with the test tools and Debian packages, then lint, types, tests
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  # install the Debian packages named, only those missing
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing Debian packages: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_install python3-venv; fi
[ -x .venv/bin/python ] || python3 -m venv .venv
extras=""
[ "${1:-}" = "test" ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"

case "${1:-}" in
  run)
    shift
    exec .venv/bin/flagbot run "$@"
    ;;
  test)
    shift
    apt_install postgresql mediawiki php-cli php-sqlite3 chromium
    .venv/bin/ruff check flagbot tests scripts bench
    .venv/bin/ruff format --check flagbot tests scripts bench
    .venv/bin/mypy
    .venv/bin/flagbot rules check
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh run | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
