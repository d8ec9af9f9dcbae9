#!/usr/bin/env bash
# Install or update phucvu on one appliance box (Debian 12 / Raspberry Pi OS
# bookworm).  Step by step with the hardware: docs/deploy-raspberry-pi.md.
#
#   sudo deploy/install.sh                          # the kiosk box: core + kiosk
#   sudo deploy/install.sh --roles display          # the wall display box
#   sudo deploy/install.sh --roles bridge           # a counter host
#   sudo deploy/install.sh --no-start               # in a chroot or an image build
#
# Options:
#   --source DIR|WHEEL  the phucvu checkout (or a built .whl) to install into
#                       the venv; default: the checkout this script is in
#   --roles LIST        comma-separated, which services this box runs:
#                       core (broker + core + nightly backup), kiosk, display,
#                       speaker, bridge, web, phone (the citizen's page behind
#                       the ticket's QR; with core); default: core,kiosk
#   --no-start          enable units only; never start, stop or reload
#                       anything (needed where systemd is not running)
#
# Idempotent: each step compares before it acts, a second run changes
# nothing, and the last line says how many things changed.  Never touched
# once written: the site config (/var/lib/phucvu/config/site.toml, reached as
# /etc/phucvu/site.toml), the data in /var/lib/phucvu, the MQTT passwords.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)    # .../deploy
REPO=$(dirname "$HERE")
PREFIX=/opt/phucvu
VENV=$PREFIX/venv
ETC=/etc/phucvu
DATA=/var/lib/phucvu
UNITS=/etc/systemd/system
RULES=/etc/udev/rules.d
USER_NAME=phucvu

SOURCE=$REPO
ROLES=core,kiosk
START=1
CHANGES=0

die() { echo "install.sh: $*" >&2; exit 1; }
note() { echo "install.sh: $*"; }
changed() { CHANGES=$((CHANGES + 1)); note "changed: $*"; }

while (($#)); do
  case "$1" in
    --source) [ $# -ge 2 ] || die "--source needs a directory or a .whl"; SOURCE=$2; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --roles) [ $# -ge 2 ] || die "--roles needs a list, e.g. core,kiosk"; ROLES=$2; shift 2 ;;
    --roles=*) ROLES=${1#*=}; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
[ -e "$SOURCE" ] || die "--source $SOURCE does not exist"
SOURCE=$(readlink -f "$SOURCE")
if [ -d "$SOURCE" ]; then
  [ -f "$SOURCE/pyproject.toml" ] || die "--source $SOURCE is not a phucvu checkout (no pyproject.toml)"
else
  case "$SOURCE" in *.whl) ;; *) die "--source $SOURCE is neither a directory nor a .whl" ;; esac
fi

# systemd is running here (not a chroot, not an image build)?
if [ -d /run/systemd/system ]; then LIVE=1; else LIVE=0; fi

# ------------------------------------------------------------------ roles
declare -A ROLE_UNITS=(
  [core]="phucvu-broker.service phucvu-core.service phucvu-backup.timer"
  [kiosk]="phucvu-kiosk.service phucvu-configured.path"
  [display]="phucvu-display.service"
  [speaker]="phucvu-speaker.service"
  [bridge]="phucvu-bridge.service"
  [web]="phucvu-web.service"
  [phone]="phucvu-phone.service"
)
# Debian packages per role; the base set is needed everywhere.
BASE_PACKAGES="python3 python3-venv ca-certificates systemd udev sqlite3"
SCREEN_PACKAGES="libgl1-mesa-dri libegl-mesa0 libgles2 libgbm1 libdrm2 libmtdev1"
declare -A ROLE_PACKAGES=(
  [core]="mosquitto fonts-dejavu-core libusb-1.0-0"
  [kiosk]="$SCREEN_PACKAGES"
  [display]="$SCREEN_PACKAGES espeak-ng alsa-utils"
  [speaker]="espeak-ng alsa-utils"
  [bridge]=""
  [web]="fonts-dejavu-core"
  [phone]=""
)

IFS=, read -r -a WANTED <<<"$ROLES"
((${#WANTED[@]})) || die "--roles is empty"
declare -A HAS=()
for r in "${WANTED[@]}"; do
  [ -n "${ROLE_UNITS[$r]+x}" ] || die "unknown role '$r' (roles: ${!ROLE_UNITS[*]})"
  HAS[$r]=1
done

# ------------------------------------------------------------------ helpers
# put SRC DEST MODE OWNER:GROUP -- copy only if the content differs, then
# make mode and owner right.  Returns 0 if anything changed.
put() {
  local src=$1 dest=$2 mode=$3 owner=$4 did=1
  if ! cmp -s "$src" "$dest"; then
    install -D -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$src" "$dest"
    changed "$dest"
    return 0
  fi
  if [ "$(stat -c '%a %U:%G' "$dest")" != "${mode#0} $owner" ]; then
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
    changed "$dest (mode/owner)"
    did=0
  fi
  return $did
}

# dir PATH MODE OWNER:GROUP
dir() {
  local path=$1 mode=$2 owner=$3
  if [ ! -d "$path" ]; then
    install -d -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$path"
    changed "$path/"
  elif [ "$(stat -c '%a %U:%G' "$path")" != "${mode#0} $owner" ]; then
    chmod "$mode" "$path"
    chown "$owner" "$path"
    changed "$path/ (mode/owner)"
  fi
}

# ------------------------------------------------------------------ packages
packages=$BASE_PACKAGES
for r in "${!HAS[@]}"; do packages+=" ${ROLE_PACKAGES[$r]}"; done
missing=()
for p in $(tr ' ' '\n' <<<"$packages" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  note "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  changed "packages ${missing[*]}"
fi

# Debian's own mosquitto.service would take port 1883 from phucvu-broker.
if [ -n "${HAS[core]:-}" ] && [ "$(readlink "$UNITS/mosquitto.service" 2>/dev/null)" != /dev/null ]; then
  if ((START && LIVE)); then systemctl stop mosquitto.service 2>/dev/null || true; fi
  systemctl mask mosquitto.service >/dev/null 2>&1
  changed "mosquitto.service masked (phucvu-broker runs the broker)"
fi

# ------------------------------------------------------------------ user
# Groups: serial ports (dialout), printers (lp), GPU (video, render), touch
# screen (input), sound (audio).  Some exist only where udev made them.
if ! getent passwd "$USER_NAME" >/dev/null; then
  useradd --system --user-group --home-dir "$DATA" --no-create-home \
          --shell /usr/sbin/nologin --comment "phucvu appliance" "$USER_NAME"
  changed "user $USER_NAME"
fi
have=" $(id -nG "$USER_NAME") "
for g in dialout lp video input render audio; do
  if ! getent group "$g" >/dev/null; then
    note "group $g does not exist here; skipped"
  elif [[ $have != *" $g "* ]]; then
    usermod -a -G "$g" "$USER_NAME"
    changed "user $USER_NAME in group $g"
  fi
done

# ------------------------------------------------------------------ folders
dir "$ETC" 0750 "root:$USER_NAME"
dir "$ETC/mosquitto.d" 0750 "root:$USER_NAME"
dir "$DATA" 0750 "$USER_NAME:$USER_NAME"
dir "$DATA/backups" 0750 "$USER_NAME:$USER_NAME"
dir "$DATA/config" 0750 "$USER_NAME:$USER_NAME"
dir "$PREFIX" 0755 root:root
if [ -n "${HAS[core]:-}" ]; then
  # The broker box makes the passwords (phucvu-broker.service, at each start,
  # keeping existing ones); /etc/phucvu/secrets is where every unit reads them.
  dir "$DATA/broker" 0750 "$USER_NAME:$USER_NAME"
  if [ ! -e "$ETC/secrets" ] && [ ! -L "$ETC/secrets" ]; then
    ln -s "$DATA/broker/secrets" "$ETC/secrets"
    changed "$ETC/secrets -> $DATA/broker/secrets"
  fi
elif [ ! -L "$ETC/secrets" ]; then
  # Other boxes: the technician copies their logins' password files here.
  dir "$ETC/secrets" 0750 "root:$USER_NAME"
fi

# ------------------------------------------------------------------ the venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  changed "$VENV"
fi
# Reinstall only when the source changed: a fingerprint of what pip installs.
if [ -d "$SOURCE" ]; then
  fingerprint=$(cd "$SOURCE" && find pyproject.toml kiosk display firmware_bridge -type f \
                  ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z \
                | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
else
  fingerprint=$(sha256sum "$SOURCE" | cut -d' ' -f1)
fi
stamp=$PREFIX/installed-source.sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$fingerprint" ]; then
  note "installing phucvu from $SOURCE into $VENV"
  "$VENV/bin/python" -m pip install -q --no-input --disable-pip-version-check "$SOURCE"
  echo "$fingerprint" >"$stamp"
  changed "phucvu in $VENV"
  PACKAGE_CHANGED=1
else
  PACKAGE_CHANGED=0
fi
for doc in deploy-raspberry-pi.md phone.md; do
  if [ -f "$REPO/docs/$doc" ]; then
    put "$REPO/docs/$doc" "$PREFIX/share/doc/$doc" 0644 root:root || true
  fi
done

# ------------------------------------------------------------------ config
# The site config lives in $DATA/config, where the core (the admin pages'
# changes) and the kiosk's first-run wizard replace it atomically: the units
# see /etc read-only (ProtectSystem=strict).  /etc/phucvu/site.toml points
# there, so every command and unit keeps its path.
SITE=$DATA/config/site.toml
if [ -f "$ETC/site.toml" ] && [ ! -L "$ETC/site.toml" ]; then
  # An older install's file, edited by hand: moved as it is, never rewritten.
  [ ! -e "$SITE" ] || die "both $ETC/site.toml and $SITE exist; keep one and delete the other"
  install -m 0640 -o "$USER_NAME" -g "$USER_NAME" "$ETC/site.toml" "$SITE"
  rm "$ETC/site.toml"
  changed "$ETC/site.toml moved to $SITE"
fi
if [ ! -L "$ETC/site.toml" ]; then
  ln -s "$SITE" "$ETC/site.toml"
  changed "$ETC/site.toml -> $SITE"
fi
if [ ! -e "$SITE" ]; then
  if [ -n "${HAS[kiosk]:-}" ]; then
    # The kiosk's screen asks for the centre (docs/admin.md, "First run");
    # phucvu-configured.path starts the other services when it is written.
    note "no site config yet: the kiosk's first-run wizard writes $SITE"
  else
    install -m 0640 -o "$USER_NAME" -g "$USER_NAME" "$HERE/site.example.toml" "$SITE"
    changed "$SITE (from site.example.toml: edit it for this centre)"
  fi
fi
if [ -n "${HAS[core]:-}" ]; then
  conf=$(mktemp)
  trap 'rm -f "$conf"' EXIT
  cat >"$conf" <<'EOF'
# Mosquitto for phucvu-broker.service (written by deploy/install.sh).
# Logins, ACL, persistence and the loopback listener are generated from
# /etc/phucvu/site.toml at every start by `phucvu broker --no-run`:
include_dir /var/lib/phucvu/broker
# Listeners on the centre's LAN for the display and the counter hosts, one
# .conf file each (docs/deploy-raspberry-pi.md), e.g. lan.conf:
#   listener 1883 192.168.1.10
include_dir /etc/phucvu/mosquitto.d
EOF
  put "$conf" "$ETC/mosquitto.conf" 0640 "root:$USER_NAME" || true
fi
if [ -n "${HAS[kiosk]:-}" ] || [ -n "${HAS[display]:-}" ]; then
  dir "$DATA/kivy" 0750 "$USER_NAME:$USER_NAME"
  put "$HERE/kivy/config.ini" "$DATA/kivy/config.ini" 0640 "$USER_NAME:$USER_NAME" || true
fi

# ------------------------------------------------------------------ udev
rules_changed=0
for f in "$HERE"/udev/*.rules; do
  if put "$f" "$RULES/$(basename "$f")" 0644 root:root; then rules_changed=1; fi
done
if ((rules_changed && START && LIVE)); then
  udevadm control --reload
  udevadm trigger
fi

# ------------------------------------------------------------------ units
units_changed=0
for f in "$HERE"/systemd/phucvu-*.service "$HERE"/systemd/phucvu-*.timer "$HERE"/systemd/phucvu-*.path; do
  if put "$f" "$UNITS/$(basename "$f")" 0644 root:root; then units_changed=1; fi
done
if ((units_changed && START && LIVE)); then systemctl daemon-reload; fi

enable=()
for r in "${!ROLE_UNITS[@]}"; do
  for u in ${ROLE_UNITS[$r]}; do
    state=$(systemctl is-enabled "$u" 2>/dev/null || true)
    if [ -n "${HAS[$r]:-}" ]; then
      enable+=("$u")
      if [ "$state" != enabled ]; then
        systemctl enable "$u" >/dev/null 2>&1
        changed "$u enabled"
      fi
    elif [ "$state" = enabled ]; then
      # The box's roles are what --roles says: a role dropped is switched off.
      if ((START && LIVE)); then systemctl stop "$u" || true; fi
      systemctl disable "$u" >/dev/null 2>&1
      changed "$u disabled (role $r not on this box)"
    fi
  done
done

if ((START && LIVE)); then
  if ((PACKAGE_CHANGED || units_changed)); then
    systemctl restart "${enable[@]}"
  else
    systemctl start "${enable[@]}"
  fi
  note "started: ${enable[*]}"
elif ((START)); then
  note "systemd is not running here: units enabled, not started"
fi
note "roles ${ROLES}; $CHANGES change(s)"
