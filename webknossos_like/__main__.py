"""`python -m webknossos_like` runs the `wkl` command line."""

import sys

from .cli import main

sys.exit(main())
