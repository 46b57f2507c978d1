"""`python -m edge`: the gateway's entry point in the edge image."""

import sys

from edge.cli import main

sys.exit(main())
