#!/bin/bash
# The peer's environment for the ClustPy benchmarks, kept apart from jaxclust's own:
#   bash benchmarks/setup_clustpy.sh [VENV]   (default .venv-clustpy)
# torch 2.13.0 is the CPU build available on the project's machines. jaxclust is installed
# into the same venv (for the shared data loader and metrics) without touching torch.
set -euo pipefail
VENV=${1:-.venv-clustpy}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0 clustpy
"$VENV/bin/pip" install -q -e .
"$VENV/bin/python" -c "import clustpy, torch; print('clustpy', clustpy.__version__ if hasattr(clustpy, '__version__') else '?', 'torch', torch.__version__)"
