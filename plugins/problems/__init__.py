"""Built-in problem kinds (entry point ``builtin-problems``), registered through the same hook a third-party
problem plugin uses: the dense-matrix kinds of the seed paper and the matrix-free whole-image kinds."""

from __future__ import annotations

from hno_framework import hookimpl

from .images import BlurKind, ImageInpaintingKind, MRIKind
from .matrix import CSKind, InpaintingDCTKind, InpaintingKind, LassoKind

BUILTIN_PROBLEMS = [LassoKind, CSKind, InpaintingKind, InpaintingDCTKind, ImageInpaintingKind, BlurKind, MRIKind]


@hookimpl
def register_problems(register):
    for cls in BUILTIN_PROBLEMS:
        register(cls)
