#!/usr/bin/env bash
# Installs everything (system packages included) and runs the whole test suite: lint, then pytest.
# The tests start what they need themselves (Xvfb, a throwaway PostgreSQL, bridge and kiosk).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
