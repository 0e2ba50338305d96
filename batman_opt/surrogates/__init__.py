"""DL process models trained on the DEM's own time series: the data (`series`), the time-dependent
calendering model and PAML drying, and their files (safetensors weights + JSON metadata)."""
