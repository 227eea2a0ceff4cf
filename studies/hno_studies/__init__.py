"""Reproductions of the seed paper's studies: grids of networks × problem settings.

Modules (each small, importable on its own; training itself is :mod:`hno_framework.training`):

* :mod:`.grid`       the grid config (settings, networks, seeds, classical baselines, quick preset);
* :mod:`.classical`  ISTA / FISTA with λ tuned on the validation set, "iterations saved";
* :mod:`.data`       the fixed validation and test sets, saved with the run;
* :mod:`.runner`     runs (and resumes) the grid cell by cell;
* :mod:`.report`     JSON, Markdown table and figures.

Command line: ``hno experiment synthetic CONFIG [--quick] [--resume]`` (``docs/experiments.md``).
"""

from .errors import ExperimentError

__all__ = ["ExperimentError"]
