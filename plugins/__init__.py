"""Built-in steps and integrators of hno-framework.

They are registered through the ``hno_framework`` entry-point group declared in the main
``pyproject.toml``, exactly as a third-party plugin registers: the core imports nothing from here.
"""
