#!/usr/bin/env bash
# apt-get install PKG... non-interactively (CI: root, no stdin), without starting services;
# updates the package lists once if the first try fails. Shared by the install-*.sh scripts.
set -euo pipefail
(( $# )) || { echo "usage: $0 PKG..." >&2; exit 2; }

SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "apt-install: need root or sudo for: $*" >&2; exit 1; }
  SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive

# Keep package scripts from starting services (no systemd here; the tests run their own daemons).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi

apt_install() {
  $SUDO apt-get install -y -q --no-install-recommends "$@" </dev/null
}
if ! apt_install "$@"; then
  $SUDO apt-get update -q </dev/null
  apt_install "$@"
fi
