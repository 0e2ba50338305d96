"""Protocols that drive the DEM engine: packing (initial structure), drying, calendering.

Each protocol takes the engine's particle state and box, moves walls and forces through the
process, and can append a Parquet time series of particle states (`timeseries.TimeSeriesWriter`).
"""
