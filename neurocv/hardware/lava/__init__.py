"""The custom Lava Process of the STM neuron and its ProcessModels. Lava's compiler imports every module in this
folder to find models: keep it to ``process.py`` and ``models.py``, free of side effects."""
