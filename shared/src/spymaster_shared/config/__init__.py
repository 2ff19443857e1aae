"""Config layers: PipelineSpec -> ServingSpec -> ExperimentSpec, plus PublishedServingSpec.

See ``docs/configs.md``. Load by name (``load_pipeline("mnq_60m_baseline")``) or by path.
"""

from spymaster_shared.config.experiment import (
    EvalConfig,
    ExperimentSpec,
    ParallelConfig,
    SweepConfig,
    TrackingConfig,
    load_experiment,
)
from spymaster_shared.config.pipeline import (
    CaptureConfig,
    PipelineOverrides,
    PipelineSpec,
    load_pipeline,
)
from spymaster_shared.config.products import ProductSpec, load_products, product_for
from spymaster_shared.config.runtime import EngineConfig, resolve_engine_config
from spymaster_shared.config.serving import (
    ProjectionConfig,
    PublishedServingSpec,
    ScoringConfig,
    ServingSpec,
    SignalConfig,
    load_serving,
)

__all__ = [
    "CaptureConfig",
    "EngineConfig",
    "EvalConfig",
    "ExperimentSpec",
    "ParallelConfig",
    "PipelineOverrides",
    "PipelineSpec",
    "ProductSpec",
    "ProjectionConfig",
    "PublishedServingSpec",
    "ScoringConfig",
    "ServingSpec",
    "SignalConfig",
    "SweepConfig",
    "TrackingConfig",
    "load_experiment",
    "load_pipeline",
    "load_products",
    "load_serving",
    "product_for",
    "resolve_engine_config",
]
