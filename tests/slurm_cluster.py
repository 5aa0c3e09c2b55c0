"""A real single-node Slurm on this machine, for the tests: munged, slurmctld and slurmd started from a temporary
folder with their own config, sockets and state, and stopped by the PIDs started here. Debian's slurm-wlm (22.05)
and munge are installed when missing, as `make test` installs chromium: only as root.

    with SlurmCluster(tmp_path) as cluster:   # waits until sinfo shows the node idle
        subprocess.run(["sbatch", ...], env=cluster.env)
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PARTITION = "study"


def missing_reason() -> str | None:
    """Why no cluster can start here (None when one can): Slurm absent and no root to install it."""
    if shutil.which("slurmctld") and shutil.which("munged"):
        return None
    return None if os.geteuid() == 0 else "slurm-wlm and munge are not installed and installing them needs root"


def install() -> None:
    """Debian's slurm-wlm and munge, when missing."""
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """One node (this machine, all its CPUs), one partition, munge authentication on a private socket."""

    def __init__(self, folder: Path, cpus: int | None = None):
        self.folder = Path(folder)
        self.cpus = cpus or os.cpu_count()
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.processes: list[subprocess.Popen] = []

    def _write_config(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "log"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text("\n".join([
            "ClusterName=studytest", f"SlurmctldHost={self.host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
            "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge", f"AuthInfo=socket={f / 'munge.socket'}",
            "CredType=cred/munge", f"StateSaveLocation={f / 'state'}", f"SlurmdSpoolDir={f / 'spool'}",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}", f"SlurmdPidFile={f / 'slurmd.pid'}",
            f"SlurmctldLogFile={f / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={f / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU", "MpiDefault=none", "ReturnToService=2",
            "MailProg=/bin/true", "SlurmdTimeout=60", "InactiveLimit=0", "KillWait=5",
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP", ""]))

    def _start(self, *command: str) -> None:
        log = (self.folder / "log" / f"{Path(command[0]).name}.out").open("w")
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def start(self, timeout: float = 60) -> "SlurmCluster":
        install()
        self._write_config()
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        f = self.folder
        self._start("munged", "--foreground", "--force", f"--key-file={key}", f"--socket={f / 'munge.socket'}",
                    f"--pid-file={f / 'munged.pid'}", f"--log-file={f / 'log' / 'munged.log'}",
                    f"--seed-file={f / 'munge.seed'}")
        self._wait(lambda: (f / "munge.socket").exists(), timeout, "munged did not create its socket")
        self._start("slurmctld", "-D", "-i", "-f", str(self.conf))
        self._start("slurmd", "-D", "-f", str(self.conf), "-N", self.host)
        self._wait(lambda: self.node_state() == "idle", timeout, "the node did not become idle")
        return self

    def node_state(self) -> str:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t", "-p", PARTITION], capture_output=True, text=True,
                             env=self.env)
        return out.stdout.strip()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((self.folder / "log").glob("*")))
        self.stop()
        raise RuntimeError(f"Slurm test cluster: {what}\n{logs}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
