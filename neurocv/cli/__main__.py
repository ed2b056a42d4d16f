"""``python -m neurocv.cli`` (and ``torchrun ... -m neurocv.cli train ...``): the same as the ``neurocv`` script."""

from . import main

main()
