#!/usr/bin/env bash
# Install (or with --uninstall remove) the station box's services: the sync daemon, the
# litestream backup and, with --kiosk, the kiosk app on tty1. Called by install.sh.
#
#   deploy/service.sh install|uninstall [--kiosk] [--root DIR]
#
# --root DIR writes every file under DIR instead of / and touches nothing else (no user, no
# systemctl): how the tests check the units, and how an image for a board is prepared.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICE_USER=township
UNITS=(township-station-sync township-station-backup)

say() { echo "==> $*" >&2; }
die() { echo "install.sh: $*" >&2; exit 1; }

ACTION="${1:-}"; shift || true
KIOSK=0
ROOT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk) KIOSK=1 ;;
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$(realpath -m "$2")"; shift ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[ "$KIOSK" -eq 1 ] && UNITS+=(township-station-kiosk)

VENV="$PWD/.venv"
HOME_DIR=/var/lib/township-station
ETC=/etc/township-station
LOG=/var/log/township-station
SYSTEMD=/etc/systemd/system

by_hand() {
    cat >&2 <<TEXT
Without systemd, run each part by hand (or under the service manager this machine has):
  sync daemon:  STATION_HOME=$HOME_DIR STATION_CLERK=… STATION_PASSPHRASE=… $VENV/bin/station sync --daemon
  backup:       STATION_HOME=$HOME_DIR $VENV/bin/station backup run
  kiosk app:    STATION_HOME=$HOME_DIR $VENV/bin/station tui      (on a terminal that shows Chinese)
TEXT
}

systemd_here() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

render() {  # a template from deploy/ with this machine's paths filled in
    sed -e "s|@VENV@|$VENV|g" -e "s|@HOME@|$HOME_DIR|g" -e "s|@ETC@|$ETC|g" \
        -e "s|@LOG@|$LOG|g" -e "s|@USER@|$SERVICE_USER|g" "$1"
}

put() {  # put FILE MODE TEMPLATE
    local target="$ROOT$1"
    mkdir -p "$(dirname "$target")"
    render "$3" > "$target.tmp"
    chmod "$2" "$target.tmp"
    mv "$target.tmp" "$target"
}

install_services() {
    if [ -z "$ROOT" ] && [ ! -d /run/systemd/system ]; then
        echo "install.sh: systemd is not running on this machine: no services installed." >&2
        by_hand
        return 0
    fi
    [ -x "$VENV/bin/station" ] || die "$VENV/bin/station is missing; run ./install.sh first"
    if [ -z "$ROOT" ]; then
        if ! id "$SERVICE_USER" >/dev/null 2>&1; then
            say "creating system user $SERVICE_USER"
            useradd --system --user-group --home-dir "$HOME_DIR" --shell /usr/sbin/nologin "$SERVICE_USER"
        fi
        runuser -u "$SERVICE_USER" -- test -x "$VENV/bin/station" \
            || die "user $SERVICE_USER cannot run $VENV/bin/station: put this checkout where it can read it (e.g. /opt/township-station)"
    else
        say "writing under $ROOT (no user created, no systemctl)"
    fi
    install -d -m 0700 "$ROOT$HOME_DIR" "$ROOT$ETC"
    install -d -m 0750 "$ROOT$LOG"
    if [ ! -e "$ROOT$ETC/sync.env" ]; then  # never overwrite the passphrase county IT put there
        put "$ETC/sync.env" 0600 deploy/sync.env
    fi
    for unit in "${UNITS[@]}"; do
        put "$SYSTEMD/$unit.service" 0644 "deploy/systemd/$unit.service"
    done
    put /etc/logrotate.d/township-station 0644 deploy/logrotate
    if [ -z "$ROOT" ]; then
        chown "$SERVICE_USER:$SERVICE_USER" "$HOME_DIR" "$LOG"
        chown root:root "$ETC/sync.env"
        systemctl daemon-reload
        systemctl enable --now "${UNITS[@]/%/.service}"
    fi
    say "services: ${UNITS[*]}; the store lives in $HOME_DIR, logs in $LOG (rotated weekly)"
    say "next: station --home $HOME_DIR init …, then fill $ETC/sync.env, then station backup setup --replica …"
}

uninstall_services() {
    local all=(township-station-sync township-station-backup township-station-kiosk)
    if systemd_here; then
        systemctl disable --now "${all[@]/%/.service}" 2>/dev/null || true
    fi
    for unit in "${all[@]}"; do
        rm -f "$ROOT$SYSTEMD/$unit.service"
    done
    rm -f "$ROOT/etc/logrotate.d/township-station"
    systemd_here && systemctl daemon-reload
    say "services removed; the store ($HOME_DIR), its settings ($ETC) and the user $SERVICE_USER are kept"
}

case "$ACTION" in
    install) install_services ;;
    uninstall) uninstall_services ;;
    *) die "usage: deploy/service.sh install|uninstall [--kiosk] [--root DIR]" ;;
esac
