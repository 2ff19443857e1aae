"""Immutable, content-addressed feature datasets (SPEC §6).

``<data_root>/research/vp_immutable/<dataset_id>/`` holds ``bins.parquet``,
``grid_clean.parquet``, ``manifest.json`` and ``checksums.json``.
"""

from spymaster_harness.datasets.reader import Dataset, list_datasets, load_dataset
from spymaster_harness.datasets.writer import ensure_dataset, generate_dataset

__all__ = ["Dataset", "ensure_dataset", "generate_dataset", "list_datasets", "load_dataset"]
