"""``python -m cashier_bridge.cli``: the same as ``selfreg-bridge``."""

import sys

from cashier_bridge.cli import main

sys.exit(main())
