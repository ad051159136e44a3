"""``python -m models.cli``: the ``pension`` command."""

import sys

from models.cli import main

sys.exit(main())
