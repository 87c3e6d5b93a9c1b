"""Background processes owned by the local stack: started with a pid file, stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManagedProcess:
    """A named background process with its pid file and log under the run folder."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid if the process recorded in the pid file is still alive (and is ours)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            marker = self.pid_file.read_text().split(maxsplit=1)[1].strip()
        except (FileNotFoundError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        if marker not in cmdline:  # the pid was reused by something else
            return None
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return None if state == "Z" else pid

    def start(
        self, command: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> subprocess.Popen:
        """Start in its own session (survives this process), output appended to the log.

        Watch start-up through the returned Popen: until exec completes, /proc still
        shows this interpreter's command line and pid() cannot recognise the child.
        """
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid} {command[0]}\n")
        return process

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait for a graceful exit, SIGKILL after `timeout`. True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        regions = stub_regions(pid)  # named while the stubs are alive to tell us
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            _reap(pid)
            time.sleep(0.1)
        if self.pid() is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
        end_group(pid, regions)
        self.pid_file.unlink(missing_ok=True)
        return True

    def wait_ready(
        self, child: subprocess.Popen, is_ready, timeout: float, poll_s: float = 0.5
    ) -> str:
        """Poll `is_ready()` until it holds: "ready", "exited" (child died; pid file removed)
        or "timeout" (child stopped). The caller turns the outcome into its own error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if is_ready():
                return "ready"
            if child.poll() is not None:  # a crash can leave its stubs running, holding shm
                end_group(child.pid, stub_regions(child.pid))
                self.pid_file.unlink(missing_ok=True)
                return "exited"
            time.sleep(poll_s)
        self.stop()
        return "timeout"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (started in this interpreter)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


LISTEN = "0A"  # TCP state code in /proc/net/tcp*
# Listening addresses (hex, as /proc writes them) that keep a server off 127.0.0.1:port:
# 127.0.0.1 as IPv4 and IPv4-mapped IPv6 (gRPC binds that way), and the IPv4/IPv6 wildcards.
BLOCKS_LOOPBACK = {
    "0100007F",
    "0000000000000000FFFF00000100007F",
    "00000000",
    "00000000000000000000000000000000",
}


def listening_addresses(port: int) -> list[str]:
    """Addresses (hex as in /proc/net/tcp*) with a socket listening on `port`, IPv4 and IPv6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == LISTEN and int(port_hex, 16) == port:
                found.append(address)
    return found


def port_is_free(port: int) -> bool:
    """True when nothing listens where a server on 127.0.0.1:port would.

    Listeners only, read from /proc: a trial bind() also fails on the closing connections a
    killed server leaves behind (FIN_WAIT while its client is paused), which the next
    tritonserver's own bind accepts, so it would refuse a restart that works.
    """
    return not BLOCKS_LOOPBACK.intersection(listening_addresses(port))


def busy_ports_message(ports: dict[str, int], service: str, wait_s: float = 5.0) -> str | None:
    """A message naming every taken port by its .env setting, or None when all are free.

    Waits up to `wait_s` for them to free: a server just killed keeps listening until
    the last process of its group (its python-backend stubs) has exited.
    """
    deadline = time.monotonic() + wait_s
    while taken := [name for name, port in ports.items() if not port_is_free(port)]:
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if not taken:
        return None
    named = ", ".join(f"{name}={ports[name]}" for name in taken)
    return (
        f"cannot start {service}: port in use on 127.0.0.1: {named}. Stop whatever "
        f"listens there (`ss -ltnp` names it; `make down` if it is an earlier `make up`) or "
        f"export another port, e.g. `export {taken[0]}=...` (defaults in .env)"
    )


def live_processes() -> dict[int, list[str]]:
    """Every live process: pid -> its /proc stat fields after the command name (state, ppid,
    pgrp, ...). Zombies are left out: they hold no memory and wait only for their parent."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                found[int(entry.name)] = fields
    return found


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is `pgid` (start_new_session makes a process lead one)."""
    return [pid for pid, fields in live_processes().items() if int(fields[2]) == pgid]


def regions_named_by(pid: int) -> list[str]:
    """Stub regions (triton_<backend>_shm_region_<uuid>) on a process's command line: a stub
    names its own; [] once the process is gone."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []
    return [a.decode() for a in args if a.startswith(b"triton_") and b"_shm_region_" in a]


def stub_regions(pgid: int) -> list[str]:
    """/dev/shm regions that python-backend stubs in this group name on their command lines."""
    return [name for pid in group_members(pgid) for name in regions_named_by(pid)]


def end_group(pgid: int, regions: list[str]) -> None:
    """After the leader is gone: kill what is left of its group and unlink its stubs' regions.

    A server stopped cleanly has done both already. One killed or crashed leaves stubs that
    linger (they notice the dead parent only after a while) and 64 MiB regions that stay in
    /dev/shm, i.e. in memory, until reboot.
    """
    if group_members(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
    for name in regions:
        Path("/dev/shm", name).unlink(missing_ok=True)
