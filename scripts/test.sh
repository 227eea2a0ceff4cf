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
# Run pytest with the given arguments; exit status 5 (no tests collected, e.g. a -k that matches nothing) is not a
# failure, every other non-zero status is.
run_pytest() {
  local rc=0
  python -m pytest -q "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests (exit 5)" >&2
    return 0
  fi
  return "$rc"
}
if [ "$#" -gt 0 ]; then  # the caller's own selection, as given
  run_pytest "$@"
  exit $?
fi
# 1. The default suite (not slow, not processes), spread over the cores by pytest-xdist.
run_pytest -n auto
# 2. The tests that start other processes (worker pools, torchrun, Ray, the hno command) in their own step, one at
#    a time: each already keeps the cores busy.
run_pytest -m "processes and not slow"
