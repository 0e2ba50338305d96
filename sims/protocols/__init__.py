"""Protocols that drive the DEM engine (sims.dem) through the making of an electrode.

- packing.py: formulation -> particle counts per size class; non-overlapping random insertion.
- drying.py: the slurry film shrinks under its evaporating surface into a dried, cohesive film.
- calendering.py: a plate compresses the dried film to a gap or pressure, holds and releases it.
- contact_tables.py: particle/wall types (AM, CBD, collector, tool, free surface) and their tables.
- film.py: film top, particle volume, inertial number (the quasi-static check).
- timeseries.py: Parquet time series of particle states for the DL models.
"""
