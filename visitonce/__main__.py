"""``python -m visitonce`` is the same as the ``visitonce`` command."""

import sys

from visitonce.cli import main

sys.exit(main())
