"""Spiking hardware: the spike formats (:mod:`.formats`: torch-free STM spec, fixed point, netx files), Lava backend
(worker in .venv-lava), simulator adapters (:mod:`.sims`), Loihi fit check.

Nothing here imports torch (the Lava worker imports this package in an environment without it).

The spike formats' old import paths (``neurocv.hardware.stm_spec``, ``.fixed_point``, ``.netx_format``) keep
working: they are the same module objects as ``neurocv.hardware.formats.*`` (so patching one patches the other).
"""

import sys as _sys

from .formats import fixed_point, netx_format, stm_spec

for _module in (stm_spec, fixed_point, netx_format):
    _sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module
del _module
