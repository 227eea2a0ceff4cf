"""Real photographs for the image experiments (seed Tables 1 and 2): sources, patches, masks, PSNR.

Modules, each small and importable on its own:

* :mod:`.sources`   grayscale images in [0, 255] from the bundled scikit-image photographs (the
  optional extra ``hno-framework[images]``) or from any folder of png/jpg/bmp/tif files (Pillow);
* :mod:`.patches`   random patches for training; tiling of a whole image into patches and the
  reassembly (non-overlapping, or overlapping with averaging);
* :mod:`.masks`     inpainting masks: per patch, per image, fixed; NaN marks an unobserved pixel;
* :mod:`.quality`   PSNR on [0, 255] images and bootstrap intervals over image blocks.

The training/validation stream of an image problem kind (``cs``, ``inpainting``, ``inpainting-dct`` with
``problem.patches``) is :mod:`hno_framework.problems.image_sampler`; the orthonormal 2-D DCT basis is
:func:`hno_framework.problems.dct.dct2_basis`.
"""
