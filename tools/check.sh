#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs every test: lit (dialect, passes, unit
# and numerical tests). Exit status is the tests' verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec "$(llvm-config-22 --prefix)/bin/lit" -sv build/test
