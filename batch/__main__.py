"""``python -m batch``: the same as the ``zoom-batch`` command."""

import sys

from ._cli import main

sys.exit(main())
