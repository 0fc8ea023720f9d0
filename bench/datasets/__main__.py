"""`python -m bench.datasets ...`: build the sets (see bench/datasets/build.py)."""

import sys

from bench.datasets.build import main

sys.exit(main())
