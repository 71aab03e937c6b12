"""The demo application: train small models with every method, measure them, write a report.

``run_demo`` runs the plan (``app``), ``findings`` decides each claim's verdict from the
run's numbers, ``report`` writes the tables, figures and ``report.md``.
"""
from .app import run_demo

__all__ = ["run_demo"]
