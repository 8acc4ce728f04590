#!/usr/bin/env bash
# Install a local SLURM (slurmctld, slurmd, client tools) and munge from Debian's repositories,
# for tests/slurm_cluster.py. Idempotent: does nothing when the binaries are already there.
# Daemons are not started here; the tests start their own.
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
bash "$(dirname "$0")/apt-install.sh" slurm-wlm munge
echo "install-slurm: installed $(PATH="$PATH:/usr/sbin" slurmctld -V)"
