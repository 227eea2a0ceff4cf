"""hno-extra: third-party components for hno-framework.

Installing this distribution registers, through the ``hno_framework`` entry-point group:

* the unfolding step ``mlp-prox`` (:class:`hno_extra.mlp_prox.MLPProxStep`);
* the integrator ``ssprk3`` (:class:`hno_extra.ssprk3.SSPRK3`).

Nothing needs importing by hand: ``hno_framework.list_steps()`` finds them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hno-extra")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
