#!/usr/bin/env bash
# Install a local SLURM (slurmctld, slurmd, client tools) and munge from Debian's repositories,
# for tests/slurm_cluster.py. Idempotent: does nothing when the binaries are already there.
# Non-interactive (CI: root, no stdin). Daemons are not started here; the tests start their own.
set -euo pipefail

need=(slurmctld slurmd sbatch srun squeue sinfo scancel munged)
missing=0
for b in "${need[@]}"; do
  command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$b" >/dev/null 2>&1 \
    || missing=1
done
if [[ $missing == 0 ]]; then
  echo "install-slurm: slurm and munge already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-slurm: need root or sudo" >&2; exit 1; }
  SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive

# Keep package scripts from starting munge/slurm services (no systemd here; we run our own).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi

apt_install() {
  $SUDO apt-get install -y -q --no-install-recommends "$@" </dev/null
}
if ! apt_install slurm-wlm munge; then
  $SUDO apt-get update -q </dev/null
  apt_install slurm-wlm munge
fi
echo "install-slurm: installed $(PATH="$PATH:/usr/sbin" slurmctld -V)"
