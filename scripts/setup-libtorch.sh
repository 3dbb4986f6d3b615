#!/usr/bin/env bash
# Makes libtorch 2.13.0 (what `tch` 0.26 needs) available to the build.
#
# libtorch comes from the PyPI wheel `torch==2.13.0`, installed once into a
# virtual environment in a cache folder outside the clone
# (${DDAEBM_CACHE:-~/.cache/ddaebm}), then linked as `.libtorch` in the
# repository root, where `.cargo/config.toml` points `LIBTORCH`. The trainer's
# build script bakes the real library path into the binaries' rpath, so no
# one needs LD_LIBRARY_PATH or an activated virtual environment.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${DDAEBM_CACHE:-$HOME/.cache/ddaebm}
venv="$cache/torch-2.13.0"
want=2.13.0

have_torch() {
  [ -x "$venv/bin/python" ] &&
    [ "$("$venv/bin/python" -c 'import torch, sys; sys.stdout.write(torch.__version__.split("+")[0])' 2>/dev/null)" = "$want" ]
}

if ! have_torch; then
  echo "setup-libtorch: installing torch==$want into $venv (one time, ~5 GB, a few minutes)" >&2
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$want"
  have_torch || { echo "setup-libtorch: torch $want did not install into $venv" >&2; exit 1; }
fi

torch_dir=$("$venv/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)
ln -sfn "$torch_dir" "$repo/.libtorch"
echo "setup-libtorch: libtorch $want at $torch_dir (linked as .libtorch)" >&2
