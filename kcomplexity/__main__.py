"""``python -m kcomplexity``: the command line, as the ``kcomplexity`` script."""
import sys

from .cli import main

sys.exit(main())
