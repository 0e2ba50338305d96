"""Parquet time series: what is written is what is read back, frame by frame, in the stated units."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.packing import pack_slurry, particle_counts
from sims.protocols.timeseries import TimeSeriesWriter


def test_frames_round_trip(tmp_path):
    state, box = pack_slurry(particle_counts(get_material("NMC111"), 0.96, 10), 30e-6, 40e-6)
    state.velocity[:, 2] = -0.01
    path = tmp_path / "run.parquet"
    with TimeSeriesWriter(path, every=5) as w:
        steps = [s for s in range(12) if w.due(s)]
        for k, step in enumerate(steps):
            state.position[:, 2] -= 1e-7 * k
            pressure = 1e6 * k if k else float("nan")  # no wall pressing in the first frame
            w.write(
                "drying", step, step * 1e-9, state, (box.hi[0], box.hi[1]), 40e-6, wall_pressure_pa=pressure
            )
    assert steps == [0, 5, 10]
    f = pq.ParquetFile(path)
    assert f.metadata.num_row_groups == 3
    table = f.read().to_pandas()
    assert len(table) == 3 * state.n
    last = table[table.frame == 2].sort_values("particle")
    np.testing.assert_allclose(last.z_um, state.position[:, 2] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(last.radius_um, state.radius * 1e6, rtol=1e-6)
    np.testing.assert_array_equal(last.type_id, state.type_id)
    assert set(table.stage) == {"drying"} and table.step.max() == 10
    np.testing.assert_allclose(table.vz_m_s, -0.01, rtol=1e-6)
    np.testing.assert_allclose(table.wall_top_um, 40.0, rtol=1e-6)
    by_frame = table.groupby("frame").wall_pressure_pa.first()
    assert np.isnan(by_frame[0]) and by_frame[1:].tolist() == [1e6, 2e6]


def test_every_must_be_positive(tmp_path):
    with pytest.raises(PhysicalInputError, match="every"):
        TimeSeriesWriter(tmp_path / "x.parquet", every=0)
