"""Parquet time series of particle states, written every k steps, for the DL models to learn from.

Long format, one row per particle per frame: `stage` (protocol name), `frame`, `step`, `time_s`
(simulated time, s), `real_time_s` (process time the frame stands for once time scaling is undone,
s), `particle`, `type_id` (0 AM, 1 CBD), `radius_um`, `x_um`, `y_um`, `z_um`, `vx_m_s`, `vy_m_s`,
`vz_m_s`, `wall_top_um` (top wall height, NaN when there is none), `box_x_um`, `box_y_um` (periodic
box) and `wall_pressure_pa` (mean pressure of the calender plate or roll over the last block, NaN
where none presses). One row group per frame, so a reader can stream frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sims.dem.engine import Simulation
from sims.dem.state import ParticleState
from sims.errors import PhysicalInputError

SCHEMA = pa.schema(
    [
        ("stage", pa.dictionary(pa.int8(), pa.string())),
        ("frame", pa.int32()),
        ("step", pa.int64()),
        ("time_s", pa.float64()),
        ("real_time_s", pa.float64()),
        ("particle", pa.int32()),
        ("type_id", pa.int8()),
        ("radius_um", pa.float32()),
        ("x_um", pa.float32()),
        ("y_um", pa.float32()),
        ("z_um", pa.float32()),
        ("vx_m_s", pa.float32()),
        ("vy_m_s", pa.float32()),
        ("vz_m_s", pa.float32()),
        ("wall_top_um", pa.float32()),
        ("box_x_um", pa.float32()),
        ("box_y_um", pa.float32()),
        ("wall_pressure_pa", pa.float32()),
    ]
)


class TimeSeriesWriter:
    """Appends frames of particle states to one Parquet file; use as a context manager.

    `every` is the frame interval in steps that protocols honour (`due(step)` says when).
    """

    def __init__(self, path: str | Path, every: int = 1000) -> None:
        if int(every) != every or every < 1:
            raise PhysicalInputError(f"timeseries every must be a positive integer of steps, got {every}")
        self.path = Path(path)
        self.every = int(every)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.path, SCHEMA, compression="zstd")
        self.n_frames = 0

    def due(self, step: int) -> bool:
        """Whether a frame is due at this step of a protocol."""
        return step % self.every == 0

    def write(
        self,
        stage: str,
        step: int,
        time_s: float,
        state: ParticleState,
        box_lateral_m: tuple[float, float],
        wall_top_m: float = float("nan"),
        real_time_s: float = float("nan"),
        wall_pressure_pa: float = float("nan"),
    ) -> None:
        """Append one frame (positions in um, velocities in m/s)."""
        n = state.n
        um = 1e6
        pos = state.position * um
        cols = {
            "stage": pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int8), pa.array([stage])),
            "frame": np.full(n, self.n_frames, dtype=np.int32),
            "step": np.full(n, step, dtype=np.int64),
            "time_s": np.full(n, time_s),
            "real_time_s": np.full(n, real_time_s),
            "particle": np.arange(n, dtype=np.int32),
            "type_id": state.type_id.astype(np.int8),
            "radius_um": (state.radius * um).astype(np.float32),
            "x_um": pos[:, 0].astype(np.float32),
            "y_um": pos[:, 1].astype(np.float32),
            "z_um": pos[:, 2].astype(np.float32),
            "vx_m_s": state.velocity[:, 0].astype(np.float32),
            "vy_m_s": state.velocity[:, 1].astype(np.float32),
            "vz_m_s": state.velocity[:, 2].astype(np.float32),
            "wall_top_um": np.full(n, wall_top_m * um, dtype=np.float32),
            "box_x_um": np.full(n, box_lateral_m[0] * um, dtype=np.float32),
            "box_y_um": np.full(n, box_lateral_m[1] * um, dtype=np.float32),
            "wall_pressure_pa": np.full(n, wall_pressure_pa, dtype=np.float32),
        }
        self._writer.write_table(pa.table(cols, schema=SCHEMA))
        self.n_frames += 1

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> TimeSeriesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameRecorder:
    """Writes a frame of a running protocol whenever `writer.every` steps have passed (no-op without
    a writer). Steps count on across the stages of a protocol (`next_stage` adds the offset)."""

    def __init__(self, writer: TimeSeriesWriter | None, stage: str, lateral_m: tuple[float, float]) -> None:
        self.writer, self.stage, self.lateral_m = writer, stage, lateral_m
        self.offset = 0
        self.last_step: int | None = None

    def next_stage(self, stage: str, steps_so_far: int) -> None:
        """Name the next stage; its simulation starts counting again at 0 after `steps_so_far` steps."""
        self.stage, self.offset = stage, steps_so_far

    def maybe(
        self,
        sim: Simulation,
        wall_top_m: float,
        real_time_s: float,
        force: bool = False,
        wall_pressure_pa: float = float("nan"),
        step: int | None = None,
    ) -> None:
        """Write the simulation's state if a frame is due (or `force`); `step`: the protocol's step
        count when the simulation's own does not run on across its stages."""
        if self.writer is None:
            return
        step = self.offset + sim.step if step is None else step
        if force or self.last_step is None or step - self.last_step >= self.writer.every:
            self.writer.write(
                self.stage,
                step,
                sim.time,
                sim.state,
                self.lateral_m,
                wall_top_m,
                real_time_s,
                wall_pressure_pa,
            )
            self.last_step = step
