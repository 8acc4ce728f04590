"""A throwaway single-node SLURM cluster (munge + slurmctld + slurmd) for tests and CI.

Debian's ``slurm-wlm`` runs as root without systemd or cgroups when every path lives under one
temporary root. There is no slurmdbd, so a small ``sacct`` stand-in (``root/bin/sacct``) answers
submitit's state queries from ``squeue``; MinJobAge=600 keeps finished jobs visible there.

    with SlurmCluster() as cluster:
        cluster.run(["sbatch", "-p", cluster.partition, "--wrap", "true"])

CLI: ``python -m tests.slurm_cluster start|status|stop [ROOT]`` (default ROOT: /tmp/slurm-cluster).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
BINARIES = (*DAEMONS, "sbatch", "squeue", "sinfo", "scancel", "srun")
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"

# Answers `sacct -o JobID,State,NodeList --parsable2 -j ID [-j ID]` (what submitit runs) from
# `squeue --json -t all`, which still lists finished jobs for MinJobAge seconds. JSON, because its
# job_state is the base state (CANCELLED) as sacct reports it, where `squeue -o %T` says
# COMPLETING for seconds after a scancel. Other sacct options are ignored.
SACCT = r"""#!{python}
import json, subprocess, sys

def val(x):  # newer Slurm wraps numbers as {{"set": .., "number": ..}} and states in lists
    if isinstance(x, dict):
        return x.get("number") if x.get("set", True) else None
    return x[0] if isinstance(x, list) and x else x

def job_id(j):
    array, task = val(j.get("array_job_id")), val(j.get("array_task_id"))
    if not array:
        return str(j["job_id"])
    return f"{{array}}_{{task}}" if task is not None else f"{{array}}_[{{j['array_task_string']}}]"

GET = {{"jobid": job_id, "jobidraw": lambda j: str(j["job_id"]),
       "state": lambda j: val(j["job_state"]), "nodelist": lambda j: j.get("nodes") or "",
       "jobname": lambda j: j.get("name", ""), "partition": lambda j: j.get("partition", ""),
       "user": lambda j: j.get("user_name", "")}}
fields, ids, header, args = ["JobID", "State", "NodeList"], set(), True, sys.argv[1:]
while args:
    arg = args.pop(0)
    key, eq, value = arg.partition("=")
    if key[:2] in ("-o", "-j") and len(key) > 2:
        key, value, eq = key[:2], arg[2:], "="
    if key in ("-o", "--format", "-j", "--jobs"):
        value = value if eq else args.pop(0)
        if key in ("-o", "--format"):
            fields = [f.split("%")[0] for f in value.split(",") if f]
        else:
            ids.update(value.split(","))
    elif key in ("-n", "--noheader"):
        header = False
out = subprocess.run(["squeue", "--json", "-t", "all"], capture_output=True, text=True)
if out.returncode:
    sys.exit(out.stderr or "squeue failed")
jobs = sorted(json.loads(out.stdout)["jobs"], key=lambda j: (job_id(j).split("_")[0], job_id(j)))
if header:
    print("|".join(fields))
for j in jobs:
    if not ids or job_id(j) in ids or job_id(j).split("_")[0] in ids:
        print("|".join(str(GET.get(f.lower(), lambda j: "")(j)) for f in fields))
"""


def _which(name: str) -> str | None:
    """Like shutil.which, but also looks in sbin (daemons live there; non-root PATHs skip it)."""
    return shutil.which(name) or shutil.which(name, path=SBIN)


def available() -> tuple[bool, str]:
    """Whether the Slurm and munge binaries are installed (else run .ci/install-slurm.sh)."""
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        return False, "missing binaries: " + ", ".join(missing)
    return True, "slurm and munge binaries found"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of a live process, None if gone (zombies count as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in "ZX" else (fields[0], int(fields[3]))


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def _kill_sessions(sids: set[int]) -> None:
    """SIGKILL every process in these sessions (a job's tasks share their slurmstepd's)."""
    for pid in _pids():
        if (st := _proc_stat(pid)) and st[1] in sids and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"--- {path.name}: (missing)"
    return f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text)


class SlurmCluster:
    """One munged, slurmctld and slurmd on this machine, all state under ``root``.

    Every process calling Slurm commands needs ``env`` (SLURM_CONF and the PATH with the sacct
    stand-in); submitit reads them from ``os.environ``.
    """

    def __init__(
        self, root: Path | str | None = None, partition: str = "debug", timeout: float = 30.0
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="slurm-"))
        self.conf = self.root / "slurm.conf"
        self.partition = partition
        self.timeout = timeout
        self.bin = self.root / "bin"
        self.env = {
            "SLURM_CONF": str(self.conf),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pidfile = self.root / "pids.json"
        self.node = ""
        self.munge_socket = self.root / "munge" / "munge.socket"

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(
        self, cmd: list[str], check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command against this cluster; output captured as text."""
        env = {**os.environ, **self.env}
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=check, timeout=timeout
        )

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        """Start munged, slurmctld and slurmd; return once the node is idle."""
        ok, why = available()
        if not ok:
            raise RuntimeError(f"{why} (run .ci/install-slurm.sh)")
        if os.geteuid() != 0:
            raise RuntimeError("the test cluster runs its daemons as root (SlurmUser=root)")
        if any(_proc_stat(pid) for pid in self._recorded().values()):
            raise RuntimeError(f"a cluster is already running under {self.root}")
        for sub in ("bin", "log", "run", "state", "spool", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "munge").chmod(0o755)  # munged wants the socket reachable by all
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-f", str(self.conf)])
            self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf), "-N", self.node])
            self._wait(self._node_idle, "the node to become idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str | None]) -> None:
        """Start a daemon in its own session (so stop() can find its job processes)."""
        with open(self.root / "log" / f"{name}.out", "ab") as out:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        self._procs[name] = proc
        self._pidfile.write_text(json.dumps({n: p.pid for n, p in self._procs.items()}))

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={self.root / 'run' / 'munged.pid'}",
                f"--seed-file={self.root / 'munge' / 'munged.seed'}",
            ],
        )
        self._wait(self.munge_socket.exists, "the munge socket")

    def _write_conf(self) -> None:
        node_line = subprocess.run(
            [_which("slurmd"), "-C"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]
        fields = dict(f.split("=", 1) for f in node_line.split())
        self.node = fields["NodeName"]
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20  # free -m
        fields["RealMemory"] = str(max(total_mb - max(512, total_mb // 20), 1024))
        fields["NodeAddr"] = "127.0.0.1"
        first_job_id = 1000 + int(time.time() * 10) % 60_000_000  # fresh ids, not 1, 2, ...
        r = self.root
        self.conf.write_text(
            f"""\
ClusterName=test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerParameters=batch_sched_delay=0,sched_interval=2,sched_min_interval=100000
DefMemPerCPU=1024
EnforcePartLimits=ALL
MinJobAge=600
KillWait=2
FirstJobId={first_job_id}
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
{" ".join(f"{k}={v}" for k, v in fields.items())}
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        )
        sacct = self.bin / "sacct"
        sacct.write_text(SACCT.format(python=sys.executable))
        sacct.chmod(0o755)

    def _node_idle(self) -> bool:
        proc = self.run(["sinfo", "-h", "-N", "-o", "%T"], check=False, timeout=10)
        return proc.returncode == 0 and proc.stdout.split() == ["idle"]

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not ready():
            dead = [n for n, p in self._procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"timed out after {self.timeout}s"
                raise RuntimeError(f"slurm test cluster: waiting for {what}: {why}\n{self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        """Tails of the daemon logs, for error messages."""
        log = self.root / "log"
        names = ["slurmctld.log", "slurmd.log", *(f"{d}.out" for d in DAEMONS)]
        return "\n".join(_tail(log / n) for n in names)

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Kill the daemons (by recorded PID) and any job processes left; safe to call twice."""
        pids = self._recorded()
        # slurmd first (no new job steps), munged last (the others talk to it while exiting).
        for name in [n for n in ("slurmd", "slurmctld", "munged") if n in pids]:
            pid = pids[name]
            if _proc_stat(pid) and _comm(pid) == name:  # not a reused PID
                os.kill(pid, signal.SIGTERM)
                self._reap(name, pid, 5.0)
                _kill_sessions({pid})  # helpers such as slurmscriptd
        # Jobs outlive slurmd: each slurmstepd (and the job's tasks) sits in a session of its own.
        _kill_sessions(self._step_sessions())
        self._pidfile.unlink(missing_ok=True)
        self._procs.clear()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _recorded(self) -> dict[str, int]:
        try:
            return json.loads(self._pidfile.read_text())
        except (OSError, ValueError):
            return {}

    def _step_sessions(self) -> set[int]:
        """Sessions of this cluster's slurmstepd processes (each job runs in its own session)."""
        mark = f"SLURM_CONF={self.conf}".encode()
        found = set()
        for pid in _pids():
            if _comm(pid) == "slurmstepd" and (st := _proc_stat(pid)):
                with contextlib.suppress(OSError):
                    if mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                        found.add(st[1])
        return found

    def _reap(self, name: str, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _proc_stat(pid) and time.monotonic() < deadline:
            if name in self._procs:
                self._procs[name].poll()
            time.sleep(0.05)
        if _proc_stat(pid):
            os.kill(pid, signal.SIGKILL)
        if name in self._procs:
            self._procs[name].wait(timeout)

    def status(self) -> str:
        """One line per daemon (alive or not) plus sinfo."""
        if not (pids := self._recorded()):
            return f"no cluster recorded under {self.root}"
        lines = [f"{n}: pid {p} {'up' if _proc_stat(p) else 'down'}" for n, p in pids.items()]
        sinfo = self.run(["sinfo"], check=False)
        return "\n".join([*lines, sinfo.stdout + sinfo.stderr])


def main(argv: list[str]) -> int:
    """``start|status|stop [ROOT]``: a cluster that outlives this process, for manual use."""
    if not argv or argv[0] not in ("start", "status", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    cluster = SlurmCluster(argv[1] if len(argv) > 1 else "/tmp/slurm-cluster")
    if argv[0] == "start":
        cluster.start()
        print(f"export SLURM_CONF={cluster.env['SLURM_CONF']} PATH={cluster.bin}:$PATH")
    elif argv[0] == "stop":
        cluster.stop()
    else:
        print(cluster.status())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
