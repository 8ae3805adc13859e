#!/usr/bin/env bash
# Creates the reference environment the benchmarks (and the parity tests'
# reference-table script) compare obscat against: Gammapy 2.1 in its own venv,
# so that Gammapy never becomes a dependency of obscat itself.
# Usage: bash benchmarks/reference-env.sh [VENV_DIR]   (default: .venv-gammapy)
set -euo pipefail
venv="${1:-.venv-gammapy}"
python3 -m venv "$venv"
"$venv/bin/pip" install -q "gammapy==2.1" "regions<0.12" matplotlib
"$venv/bin/python" -c "import gammapy; print('gammapy', gammapy.__version__, 'in', '$venv')"
