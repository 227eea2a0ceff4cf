#!/usr/bin/env bash
# Install hno-framework and hno-studies (CPU torch 2.13.0 first, never a CUDA build) and run the main job:
# train LISTA and 2NO-LISTA on the same small synthetic Lasso problem, print NMSE per layer side by side
# (--force: a rerun replaces the demo's own runs in runs/).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0"
python -m pip install -q . ./studies  # the framework and its studies (hno experiment)
hno compare examples/lista.yaml examples/2no-lista.yaml --force \
  --json runs/example/compare.json --plot runs/example/compare.png "$@"
