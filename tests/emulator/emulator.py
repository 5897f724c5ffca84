#!/usr/bin/python3
"""Local AWS API emulator for endpoint-binder's tests and benchmarks.

Usage: /usr/bin/python3 tests/emulator/emulator.py --port 0 [flags]   (see README.md)
Prints `READY http://127.0.0.1:<port>` first, then serves until stopped.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from awsemu.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
