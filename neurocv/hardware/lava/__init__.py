"""The custom Lava Processes of an STM layer (``process.py``), their ProcessModels (``models.py``) and our Conv
ProcessModel (``conv.py``, also used inside the fused layer). Lava's compiler imports every module in this folder to
find models: keep it to these three files, free of side effects."""
