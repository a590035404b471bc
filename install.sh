#!/usr/bin/env bash
# Set up Township Station on a fresh Debian machine: a .venv holding the project and its
# runtime dependencies; with --dev, the test tools too. Safe to run again: every step checks
# what is already there.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    echo "usage: ./install.sh [--dev]" >&2
    echo "  --dev   also install the test tools (pytest, hypothesis, ruff, mypy, import-linter," >&2
    echo "          and from Debian: tmux, chromium, chromium-driver, a CJK font)" >&2
}

DEV=0
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $arg" >&2; usage; exit 2 ;;
    esac
done

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
    else
        for tool in tmux chromium chromedriver; do
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
step "done: .venv/bin/station and .venv/bin/county are ready"
