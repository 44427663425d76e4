"""azureml.core for jobs on vnetml: Run only (see vnetml_run)."""
from vnetml_run import Run, RunError  # noqa: F401
