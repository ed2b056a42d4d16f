"""Spiking hardware: torch-free STM spec, Lava backend (worker in .venv-lava), Loihi fit check.

Nothing here imports torch (the Lava worker imports this package in an environment without it).
"""
