"""``python -m cnnlab`` is the same as ``cnnlab``."""

import sys

from cnnlab.cli import main

sys.exit(main())
