#!/usr/bin/env bash
# The anomaly benchmark's Python environment: a venv outside the clone,
# reused when it already holds exactly the pinned packages.
#
#   ./bench/anomaly/setup.sh          # prints the venv's python on stdout
#
# DDAEBM_CACHE (default ~/.cache/ddaebm) moves it, as for libtorch.
#
# Packages (bench/anomaly/requirements.txt): numpy, scipy, scikit-learn,
# matplotlib. The time series of the benchmark is a data file shipped inside
# the aeon wheel (aeon/datasets/data/KDD-TSAD_135/...); aeon is installed
# with --no-deps because only that file is read (aeon itself is never
# imported, so numba & co. are not needed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DDAEBM_CACHE:-$HOME/.cache/ddaebm}"
venv="$cache/bench-venv"
AEON_VERSION=1.6.0
stamp="$venv/.ddaebm-bench-stamp"
want="$(cat "$here/requirements.txt"; echo "aeon==$AEON_VERSION --no-deps")"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

echo "== bench venv: $venv" >&2
mkdir -p "$cache"
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "aeon==$AEON_VERSION" >&2
printf '%s' "$want" >"$stamp"
echo "$venv/bin/python"
