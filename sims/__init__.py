"""Numba simulators and microstructure metrics of battery electrodes.

Usable alone: nothing here imports torch, ray or batman_opt.
"""
