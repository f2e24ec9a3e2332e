"""``python -m bench [--quick]``: see :mod:`bench.run`."""

import sys

from .run import main

sys.exit(main())
