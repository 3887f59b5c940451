"""``python -m standin --http-port 9090 --arrow-port 8815 --address 0.0.0.0:4317 --data-dir /data``."""

from __future__ import annotations

import sys

from standin.server import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
