"""The four services as real processes (each in its own process group) for bus tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
SERVICES = ("replay", "engine", "scorer", "gateway")


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    gateway_port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        args = [str(BIN / f"spymaster-{name}")]
        if name == "gateway":
            args += ["--port", str(self.gateway_port)]
        with open(self.log_dir / f"{name}.log", "ab") as out:
            self.procs[name] = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_all(self) -> Stack:
        try:
            for name in SERVICES:
                self.start(name)
            self.wait_gateway()
            for name in SERVICES[:3]:
                self.wait_service(name)
        except BaseException:
            self.stop()  # never leave a half-started stack behind
            raise
        return self

    def wait_service(self, name: str, timeout: float = 60) -> None:
        """Until the service answers its nats.micro ping (its control endpoints are up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = subprocess.run(
                [str(BIN / "spymaster"), "health", "--service", f"spymaster-{name}"],
                env=self.env, capture_output=True,
            )  # fmt: skip
            if ok.returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"{name} does not answer; see {self.log_dir}/{name}.log")

    def wait_gateway(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.gateway_port}/health"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gateway not healthy; see {self.log_dir}/gateway.log")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(15)

    def stop(self) -> None:
        """SIGTERM every service, then SIGKILL whatever has not exited after 15 s."""
        procs = [self.procs.pop(name) for name in list(self.procs)]
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")


def stack_env(nats_url: str, config_root: Path, data_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "SPYMASTER_"))}
    env.update(
        NATS_URL=nats_url,
        SPYMASTER_CONFIG_ROOT=str(config_root),
        SPYMASTER_DATA_ROOT=str(data_root),
        SPYMASTER_GATEWAY_QUEUE_BINS="100000",  # the parity client must not drop frames
        SPYMASTER_GATEWAY_HISTORY_BINS="100000",
    )
    env.update(extra)
    return env
