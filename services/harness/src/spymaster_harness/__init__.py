"""spymaster harness: datasets, sweeps on Ray, TP/SL evaluation, MLflow, promote.

See ``docs/harness.md``.
"""

import os as _os

# Under `uv run`, Ray >= 2.45 would ship the whole repository as a working_dir to every
# local worker (and rebuild the venv there); the embedded Ray shares this venv instead.
_os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
