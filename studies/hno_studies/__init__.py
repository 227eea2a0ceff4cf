"""hno-studies: the seed paper's studies on hno-framework (grids of networks × problem settings).

Modules (each small, importable on its own; training itself is :mod:`hno_framework.training`):

* :mod:`.grid`       the grid config (settings, networks, seeds, classical baselines, quick preset);
* :mod:`.classical`  ISTA / FISTA with λ tuned on the validation set, "iterations saved";
* :mod:`.data`       the fixed validation and test sets, saved with the run;
* :mod:`.runner`     runs (and resumes) the grid cell by cell;
* :mod:`.report`     JSON, Markdown table and figures;
* :mod:`.converged_config`, :mod:`.converged`, :mod:`.converged_report`  the converged comparison;
* :mod:`.image_study`, :mod:`.image_runner`, :mod:`.image_eval`, :mod:`.image_report`  the image studies;
* :mod:`.cli`, :mod:`.plugin`  ``hno experiment``, added through the ``register_commands`` hook.

Command line: ``hno experiment synthetic | converged | inpainting | image-cs`` (``docs/experiments.md``,
``docs/images.md``).
"""

from .errors import ExperimentError

__all__ = ["ExperimentError"]
