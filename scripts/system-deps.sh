#!/usr/bin/env bash
# Debian packages the project needs beyond Python itself.
#   scripts/system-deps.sh        what `make run` needs
#   scripts/system-deps.sh test   plus what the tests drive: Chromium (browser tests), GDAL
#                                 (ogrinfo, a real OGC API client), nginx and
#                                 systemd-analyze (the production test's proxy and units)
# PostgreSQL and PostGIS are installed by `python -m app.localdb start` (the Makefile's
# `database` target) when the project runs its own database: the major Debian ships.
set -euo pipefail

missing=()
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
if [[ "${1:-}" == "test" ]]; then
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    command -v ogrinfo >/dev/null || missing+=(gdal-bin)
    [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v systemd-analyze >/dev/null || missing+=(systemd)
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: missing Debian packages: ${missing[*]}; as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "Installing ${missing[*]} from Debian's packages…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
