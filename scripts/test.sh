#!/usr/bin/env bash
# Install everything (CPU torch 2.13.0 first, never a CUDA build) and run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0"
# Optional extras whose tests run by default: Ray (executors), scikit-image (bundled photographs),
# TensorBoard and MLflow (logger read-back tests).
python -m pip install -q -e ".[test,ray,images,tensorboard,mlflow]"
# The seed paper's studies (hno experiment); their tests (studies/tests) run with ours via testpaths.
python -m pip install -q -e ./studies
# The example third-party plugin; its tests (contrib/hno-extra/tests) run with ours via testpaths.
python -m pip install -q -e ./contrib/hno-extra
set +e
python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests (exit 5)" >&2
  exit 0
fi
exit "$rc"
