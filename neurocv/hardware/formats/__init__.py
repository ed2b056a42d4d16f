"""The spike formats: what a spiking partition is, as numbers, in each form neurocv writes or runs.

* :mod:`.stm_spec` - the torch-free STM spec read from a NIR file (:class:`~.stm_spec.STMSpec`), its shapes and
  operation counts, and the float numpy reference simulator with its per-clip driver (:func:`~.stm_spec.drive_clip`).
* :mod:`.fixed_point` - the Loihi-style integers of an STM (quantized weights, thresholds, decays) and their numpy
  simulator, bit for bit what Lava's ``fixed_pt`` models compute.
* :mod:`.netx_format` - the lava-dl netx HDF5 network of a LIF STM (writer, reader, numpy simulator).

numpy only (``nir`` and ``h5py`` lazily): the Lava worker imports them in an environment without torch. The old
paths ``neurocv.hardware.stm_spec``, ``neurocv.hardware.fixed_point`` and ``neurocv.hardware.netx_format`` name these
same modules (:mod:`neurocv.hardware`).
"""
