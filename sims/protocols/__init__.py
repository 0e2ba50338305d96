"""Protocols that drive the DEM engine (sims.dem) through the making of an electrode.

- stepping.py: steppable protocols (stages advanced k steps, full state out and in, observables per
  block) and the one pressure servo; the seam where PAML inserts its DL macro-steps.
- packing.py: formulation -> particle counts per size class; non-overlapping random insertion.
- drying.py: the slurry film shrinks under its evaporating surface into a dried, cohesive film.
- calendering.py: a plate compresses the dried film to a gap or pressure, holds, releases, settles.
- calendering_common.py: what the plate and the roll share: settings, result, gap and quasi-static
  checks.
- densification.py: the CBD's nanoporosity falls with its local pressure under calendering.
- roll.py: a scaled roll passes over the tiled film at the gap.
- contact_tables.py: particle/wall types (AM, CBD, collector, tool, free surface) and their tables.
- film.py: film top, particle volume, inertial number (the quasi-static check).
- timeseries.py: Parquet time series of particle states for the DL models.
"""
