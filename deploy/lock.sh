#!/usr/bin/env bash
# Regenerate the hashed lock files from pyproject.toml (run as `./install.sh --lock`):
#
#   deploy/requirements.lock       the runtime dependencies (install.sh, --wheelhouse, --offline)
#   deploy/requirements-dev.lock   the same pins plus the test tools (install.sh --dev, CI)
#
# Run it after any change to the dependencies in pyproject.toml and commit both files. Each
# lock is one universal resolution (uv's --universal): pins with environment markers that hold
# on every machine the project supports (x86_64 and aarch64 Linux, armv7 with the markers in
# pyproject.toml, Python 3.11 and newer), and the SHA-256 of every file of each pinned release,
# so pip checks whatever wheel or sdist it takes on any of them. pip-tools cannot do this: it
# resolves for the machine it runs on only.
#
# Deterministic: uv is pinned (a newer uv may order or mark things differently), and the pins
# already in a lock are kept: a new dependency brings in only itself and what it needs.
# `./install.sh --lock --upgrade` moves every pin to the newest release allowed. Two branches
# that both changed a lock: take either file and run this again.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
RUNTIME_LOCK=deploy/requirements.lock
DEV_LOCK=deploy/requirements-dev.lock
PYTHON="${PYTHON:-python3}"

say() { echo "==> $*" >&2; }
die() { echo "install.sh: $*" >&2; exit 1; }

UPGRADE=()
for arg in "$@"; do
    case "$arg" in
        --upgrade) UPGRADE=(--upgrade) ;;
        *) die "unknown option $arg for --lock" ;;
    esac
done

uv_binary() {
    # The pinned uv in a venv of its own, made once per user (the project's .venv stays as
    # the locks say; uv is needed only to write them).
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/township-station/uv-$UV_VERSION"
    if [ ! -x "$venv/bin/uv" ]; then
        say "installing uv $UV_VERSION into $venv"
        "$PYTHON" -m venv "$venv" || die "could not create $venv"
        "$venv/bin/python" -m pip install --quiet "uv==$UV_VERSION" || die "pip install uv==$UV_VERSION failed"
    fi
    echo "$venv/bin/uv"
}

compile() {
    # --python-version is the oldest Python supported: with --universal, uv resolves for it
    # and every newer one.
    local out="$1"; shift
    "$UV" pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 \
        --custom-compile-command "./install.sh --lock" --quiet "${UPGRADE[@]}" "$@" -o "$out" \
        || die "uv pip compile failed for $out"
}

UV="$(uv_binary)"
say "locking the runtime dependencies into $RUNTIME_LOCK"
compile "$RUNTIME_LOCK"
# The dev lock is held to the runtime pins, so the tests run against what a station installs.
say "locking the runtime and test dependencies into $DEV_LOCK"
compile "$DEV_LOCK" --extra dev --constraint "$RUNTIME_LOCK"
say "done: commit $RUNTIME_LOCK and $DEV_LOCK"
