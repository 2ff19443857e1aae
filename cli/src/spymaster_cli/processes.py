"""Child processes in their own process groups, stopped together and never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN_DIR = Path(sys.executable).parent


def console_script(name: str) -> str:
    path = BIN_DIR / name
    return str(path) if path.exists() else name


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass


@dataclass
class ProcessGroup:
    children: list[Child] = field(default_factory=list)

    def add(self, child: Child) -> Child:
        self.children.append(child)
        child.start()
        return child

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child's group, wait, then SIGKILL what is left (reverse order)."""
        for child in reversed(self.children):
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.signal(signal.SIGKILL)
                child.proc.wait(5)
            # the group may hold grandchildren (none expected); make sure they are gone too
            child.signal(signal.SIGKILL)
