"""Starting or joining Ray: an embedded local Ray sized to the machine, or a cluster."""

from __future__ import annotations

import logging
import os

from spymaster_harness.errors import RayUnavailableError

# Env forwarded to Ray workers (data/config roots, test hooks).
FORWARDED_ENV_PREFIXES = ("SPYMASTER_",)


def _forwarded_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}


# Set by Ray's job supervisor for a job's driver (ray._private.runtime_env.constants: the
# variable's name is its value); spelled out here so no private Ray module is imported.
RAY_JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"


def _inside_ray_job() -> bool:
    """True in the driver of a Ray job (``harness submit``)."""
    return RAY_JOB_CONFIG_ENV in os.environ


def local_cpu_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def init_ray(*, workers: int | None, max_workers: int, address: str | None = None) -> int:
    """Start (or reuse) Ray; returns the number of CPUs sweep tasks may use.

    Default: an embedded local Ray with ``num_cpus = min(workers or max_workers, cores)``
    and no dashboard. ``address`` (``auto`` or ``ray://host:10001``) joins a cluster instead;
    inside a Ray job (``harness submit``) ``auto`` finds the job's cluster.
    """
    import ray

    if ray.is_initialized():
        return max(int(ray.cluster_resources().get("CPU", 1)), 1)
    runtime_env = {"env_vars": _forwarded_env()}
    if _inside_ray_job():
        # a submitted job (`harness submit`): its runtime_env already carries the project and
        # the env; Ray refuses a driver runtime_env that repeats the job's env keys
        runtime_env = None
    if address:
        try:
            ray.init(
                address=address,
                runtime_env=runtime_env,
                logging_level=logging.WARNING,
                log_to_driver=True,
            )
        except Exception as exc:  # ConnectionError, RuntimeError, ...
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise RayUnavailableError(f"cannot reach Ray at {address}: {detail}") from None
        return max(int(ray.cluster_resources().get("CPU", 1)), 1)
    wanted = workers if workers is not None else max_workers
    if wanted < 1:
        raise RayUnavailableError(f"--workers must be >= 1, got {wanted}")
    num_cpus = min(wanted, local_cpu_count()) if workers is None else wanted
    # A Ray address exported for `harness jobs/logs/stop` must not hijack the embedded Ray.
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        runtime_env=runtime_env,
        logging_level=logging.WARNING,
        log_to_driver=True,
    )
    return num_cpus
