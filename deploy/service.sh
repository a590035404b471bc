#!/usr/bin/env bash
# Install (or with --uninstall remove) the station box's services: the sync daemon, the
# litestream backup and, with --kiosk, the kiosk app on tty1; or, with --hub, the county hub
# (`county serve`) as its own system user. Called by install.sh (--service, --hub-service).
#
#   deploy/service.sh install|uninstall [--kiosk | --hub] [--root DIR]
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
HUB=0
ROOT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk) KIOSK=1 ;;
        --hub) HUB=1 ;;
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
HUB_USER=township-county
HUB_HOME=/var/lib/township-county
HUB_ETC=/etc/township-county
HUB_UNIT=township-county
if [ "$HUB" -eq 1 ]; then
    SERVICE_USER=$HUB_USER HOME_DIR=$HUB_HOME ETC=$HUB_ETC
fi
# ProtectHome=yes hides /home and /root: a checkout there (not advised) keeps them read-only.
case "$VENV" in
    /home/*|/root/*|/run/user/*) PROTECT_HOME=read-only ;;
    *) PROTECT_HOME=yes ;;
esac

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
        -e "s|@LOG@|$LOG|g" -e "s|@USER@|$SERVICE_USER|g" -e "s|@PROTECT_HOME@|$PROTECT_HOME|g" "$1"
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
    if [ ! -e "$ROOT$ETC/sync.env" ]; then  # never overwrite the clerk county IT put there
        put "$ETC/sync.env" 0600 deploy/sync.env
    fi
    passphrase_apart
    for unit in "${UNITS[@]}"; do
        put "$SYSTEMD/$unit.service" 0644 "deploy/systemd/$unit.service"
    done
    put /etc/logrotate.d/township-station 0644 deploy/logrotate
    if [ -z "$ROOT" ]; then
        chown "$SERVICE_USER:$SERVICE_USER" "$HOME_DIR" "$LOG"
        chown root:root "$ETC/sync.env" "$ETC/passphrase"
        systemctl daemon-reload
        systemctl enable --now "${UNITS[@]/%/.service}"
    fi
    say "services: ${UNITS[*]}; the store lives in $HOME_DIR, logs in $LOG (rotated weekly)"
    say "next: station --home $HOME_DIR init …, then put the clerk in $ETC/sync.env and the passphrase alone in $ETC/passphrase, then station backup setup --replica …"
}

# The passphrase lives in a file of its own, handed to the daemon with LoadCredential=. An
# install of an earlier release kept it in sync.env: move it out, once, keeping the file's
# mode; a passphrase already in its own file is never overwritten.
passphrase_apart() {
    local env="$ROOT$ETC/sync.env" file="$ROOT$ETC/passphrase" line value
    if [ ! -e "$file" ]; then
        (umask 077 && : > "$file")
    fi
    line=$(grep -m1 '^STATION_PASSPHRASE=' "$env" || true)
    [ -n "$line" ] || return 0
    value=${line#STATION_PASSPHRASE=}
    case $value in \"*\") value=${value:1:-1} ;; \'*\') value=${value:1:-1} ;; esac
    if [ -n "$value" ] && [ ! -s "$file" ]; then
        printf '%s' "$value" > "$file"
        say "moved the passphrase from $ETC/sync.env to $ETC/passphrase (read through LoadCredential=)"
    fi
    sed -i '/^STATION_PASSPHRASE=/d' "$env"
}

install_hub() {
    if [ -z "$ROOT" ] && [ ! -d /run/systemd/system ]; then
        echo "install.sh: systemd is not running on this machine: no service installed." >&2
        echo "Without systemd, run the hub by hand: COUNTY_HOME=$HUB_HOME $VENV/bin/county serve --config $HUB_ETC/county.toml" >&2
        return 0
    fi
    [ -x "$VENV/bin/county" ] || die "$VENV/bin/county is missing; run ./install.sh first"
    if [ -z "$ROOT" ]; then
        if ! id "$HUB_USER" >/dev/null 2>&1; then
            say "creating system user $HUB_USER"
            useradd --system --user-group --home-dir "$HUB_HOME" --shell /usr/sbin/nologin "$HUB_USER"
        fi
        runuser -u "$HUB_USER" -- test -x "$VENV/bin/county" \
            || die "user $HUB_USER cannot run $VENV/bin/county: put this checkout where it can read it (e.g. /opt/township-station)"
    else
        say "writing under $ROOT (no user created, no systemctl)"
    fi
    install -d -m 0700 "$ROOT$HUB_HOME"
    install -d -m 0750 "$ROOT$HUB_ETC"
    if [ ! -e "$ROOT$HUB_ETC/county.toml" ]; then  # never overwrite what county IT wrote there
        put "$HUB_ETC/county.toml" 0640 deploy/county.toml
    fi
    put "$SYSTEMD/$HUB_UNIT.service" 0644 "deploy/systemd/$HUB_UNIT.service"
    if [ -z "$ROOT" ]; then
        chown "$HUB_USER:$HUB_USER" "$HUB_HOME"
        chown "root:$HUB_USER" "$HUB_ETC" "$HUB_ETC/county.toml"  # read by the hub, written by root
        systemctl daemon-reload
        # Started once the home has a county.toml (the unit's ConditionPathExists).
        systemctl enable "$HUB_UNIT.service"
    fi
    say "service: $HUB_UNIT as user $HUB_USER; its home $HUB_HOME, its settings $HUB_ETC/county.toml"
    say "next: runuser -u $HUB_USER -- $VENV/bin/county --home $HUB_HOME init [--database postgresql://…] --host NAME,"
    say "      then systemctl start $HUB_UNIT; logs: journalctl -u $HUB_UNIT"
}

uninstall_services() {
    local all=(township-station-sync township-station-backup township-station-kiosk $HUB_UNIT)
    if systemd_here; then
        systemctl disable --now "${all[@]/%/.service}" 2>/dev/null || true
    fi
    for unit in "${all[@]}"; do
        rm -f "$ROOT$SYSTEMD/$unit.service"
    done
    rm -f "$ROOT/etc/logrotate.d/township-station"
    systemd_here && systemctl daemon-reload
    say "services removed; the stores ($HOME_DIR, $HUB_HOME), their settings ($ETC, $HUB_ETC) and the users are kept"
}

case "$ACTION" in
    install) if [ "$HUB" -eq 1 ]; then install_hub; else install_services; fi ;;
    uninstall) uninstall_services ;;
    *) die "usage: deploy/service.sh install|uninstall [--kiosk | --hub] [--root DIR]" ;;
esac
