"""``python -m reload_server``: see :mod:`reload_server.cli`."""

import sys

from reload_server.cli.main import main

sys.exit(main())
