"""docker-compose.yml and deploy/Dockerfile checked without a Docker engine."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
BIN = Path(sys.executable).parent
REQUIRED = {"nats", "bus-init", "replay", "engine", "scorer", "gateway", "ray-head",
            "ray-worker", "mlflow", "postgres"}  # fmt: skip


def _workspace_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in [REPO / "cli/pyproject.toml", *REPO.glob("services/*/pyproject.toml")]:
        scripts |= set(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


def _ours(svc: dict) -> bool:
    build = svc.get("build") or {}
    return isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile"


def test_every_service_is_there() -> None:
    assert REQUIRED <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_commands_are_console_scripts_of_the_workspace(name: str) -> None:
    svc = SERVICES[name]
    if not _ours(svc):
        return
    scripts = _workspace_scripts()
    commands = [svc["command"]]
    hc = svc.get("healthcheck", {}).get("test")
    if hc:
        commands.append(hc[1:] if hc[0] in ("CMD", "CMD-SHELL") else hc)
    for cmd in commands:
        exe = cmd[0]
        if exe.startswith("spymaster") or exe == "harness":
            assert exe in scripts, f"{name}: {exe} is not a workspace console script"
        assert (BIN / exe).exists(), f"{name}: {exe} is not installed in the workspace env"
    if name == "bus-init":
        assert svc["command"][:2] == ["spymaster", "bus-init"]


def test_healthchecks_and_dependency_conditions() -> None:
    for name, svc in SERVICES.items():
        if name != "bus-init":
            assert "healthcheck" in svc, f"{name} has no healthcheck"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            assert cond["condition"] in (
                "service_healthy", "service_completed_successfully"
            ), f"{name} -> {dep}"  # fmt: skip
    for svc in ("replay", "engine", "scorer"):
        assert SERVICES[svc]["depends_on"]["bus-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert SERVICES["bus-init"]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert set(SERVICES["gateway"]["depends_on"]) == {"replay", "engine", "scorer"}
    assert SERVICES["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["ray-worker"]["depends_on"]["ray-head"]["condition"] == "service_healthy"


def test_ports_only_on_loopback() -> None:
    published = {}
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} to the world"
            published.setdefault(name, []).append(int(str(port).split(":")[2]))
    assert 8002 in published["gateway"]
    assert 8265 in published["ray-head"]
    assert 8222 in published["nats"]
    assert "ports" not in SERVICES["postgres"]


def test_nothing_reachable_without_auth() -> None:
    nats_cmd = SERVICES["nats"]["command"]
    assert "--user" in nats_cmd and "--pass" in nats_cmd
    assert "-js" in nats_cmd
    required = re.compile(r"^\$\{[A-Z_]+:\?.+\}$")
    user = nats_cmd[nats_cmd.index("--user") + 1]
    assert required.match(user), "NATS user must be required from the environment"
    for name, svc in SERVICES.items():
        env = svc.get("environment") or {}
        if "NATS_URL" in env:
            assert env.get("NATS_USER") and env.get("NATS_PASSWORD"), name
    assert required.match(SERVICES["gateway"]["environment"]["SPYMASTER_TOKEN"])
    assert required.match(SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"])
    for ray in ("ray-head", "ray-worker"):  # the Jobs API (8265) runs code: token required
        env = SERVICES[ray]["environment"]
        assert env["RAY_AUTH_MODE"] == "token", ray
        assert required.match(env["RAY_AUTH_TOKEN"]), ray


def test_dockerfile_installs_from_the_lock_before_the_source() -> None:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    lock = text.index("COPY pyproject.toml uv.lock")
    deps = text.index("--no-install-workspace")
    source = text.index("COPY shared shared")
    assert lock < deps < source
    assert "--frozen" in text
    for member in (
        "shared",
        "cli",
        *(p.parent.name for p in REPO.glob("services/*/pyproject.toml")),
    ):
        assert f"{member}/pyproject.toml" in text, member
    assert len(list((REPO / "deploy").glob("*Dockerfile*"))) == 1
