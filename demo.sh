#!/usr/bin/env bash
# Installs everything (system packages included) and starts the demo: the cashier bridge on
# SQLite with a few hundred demo customers, the kiosk window, and a register you drive from this
# terminal.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
exec .venv/bin/selfreg-sim demo "$@"
