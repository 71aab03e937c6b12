"""The demo application: train small models with every method, measure them, write a report.

``run_demo`` runs the plan (``app``), ``findings`` decides each claim's verdict from the
run's numbers, ``report`` writes the tables, figures and ``report.md``.
"""
from ..errors import require

require("torch", "demo", "the demo")
require("sklearn", "demo", "the demo (its digits data set)")

from .app import run_demo  # noqa: E402

__all__ = ["run_demo"]
