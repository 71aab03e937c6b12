"""The toolkit version, a leaf module so that any layer may import it.

``NUMBERS_VERSION`` names the estimator outputs: bump it whenever a deliberate change moves a
number (``tests/test_pinned.py --write`` refuses to re-pin otherwise). Cache rows are keyed by it,
so rows computed under other numbers are never served.
"""
__version__ = "0.1.0"
NUMBERS_VERSION = 6
