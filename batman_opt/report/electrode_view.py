"""Interactive 3D view of an electrode (`batman view`): one self-contained HTML file, plotly.js
embedded, no network.

Particles are spheres at their true radii, meshed by the page from one unit icosphere per phase
(AM finer than CBD) and the centres: the file holds centres and radii, not meshes, so it stays small
and a time series costs three numbers per particle and frame. Also drawn: the current collector
(z < 0), the periodic box, and switchable layers computed from the voxelized structure: the pore
phase (isosurface of the pore fraction on a coarse grid), the concentration field of the
tortuosity solve (pores D, CBD nanoporosity^1.5 D, as the dem outcomes) on the mid-plane
y = L/2 (c = 1 at the collector, 0 at the top), and one shortest
geometric pore path through the thickness. With a time series: a slider through the frames of
drying and calendering, beside the plate and film-top heights and the plate (or roll) pressure of
every frame, where the spring-back shows as the film top rising after the plate lifts. The "line"
panel puts the recipe on the process chain.

Size for the default RVE (300 AM and ~3,200 CBD particles): 5.5 MB without a time series, of which
4.8 MB are plotly.js; 7.2 MB with 21 frames.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from plotly.offline import get_plotlyjs

from batman_opt.errors import InputError
from batman_opt.report.line_panel import line_panel
from batman_opt.spec import Campaign
from sims.electrode_metrics import VOXEL_SIZE_UM, cbd_relative_diffusivity
from sims.materials import get_material
from sims.metrics import AM, CBD, PORE, TortuositySolver, shortest_pore_path, voxelize_spheres
from sims.protocols.contact_tables import AM_TYPE
from sims.structure import ElectrodeStructure

SPHERE_LEVEL = {AM: 2, CBD: 1}  # icosphere subdivisions: 320 and 80 triangles
COLOURS = {AM: "#5b6d8f", CBD: "#e08214", "pore": "#74add1", "path": "#d73027", "collector": "#a9a9a9"}
MAX_FRAMES = 30
MAX_GRID = 48  # cells per axis of the pore-fraction isosurface
_JS = Path(__file__).with_name("electrode_view.js")


def icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere mesh: vertices (V, 3) and triangles (F, 3), an icosahedron subdivided `level` times."""
    t = (1.0 + 5**0.5) / 2.0
    v = [
        (-1, t, 0),
        (1, t, 0),
        (-1, -t, 0),
        (1, -t, 0),
        (0, -1, t),
        (0, 1, t),
        (0, -1, -t),
        (0, 1, -t),
        (t, 0, -1),
        (t, 0, 1),
        (-t, 0, -1),
        (-t, 0, 1),
    ]
    faces = [
        (0, 11, 5),
        (0, 5, 1),
        (0, 1, 7),
        (0, 7, 10),
        (0, 10, 11),
        (1, 5, 9),
        (5, 11, 4),
        (11, 10, 2),
        (10, 7, 6),
        (7, 1, 8),
        (3, 9, 4),
        (3, 4, 2),
        (3, 2, 6),
        (3, 6, 8),
        (3, 8, 9),
        (4, 9, 5),
        (2, 4, 11),
        (6, 2, 10),
        (8, 6, 7),
        (9, 8, 1),
    ]
    verts = [np.array(p, dtype=float) / np.linalg.norm(p) for p in v]
    for _ in range(level):
        midpoint: dict[tuple[int, int], int] = {}
        new = []
        for a, b, c in faces:
            ab, bc, ca = (_midpoint(verts, midpoint, *edge) for edge in ((a, b), (b, c), (c, a)))
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(verts), np.array(faces, dtype=np.int32)


def _midpoint(verts: list[np.ndarray], cache: dict[tuple[int, int], int], a: int, b: int) -> int:
    """Index of the unit vertex halfway between vertices a and b (added once per edge)."""
    key = (min(a, b), max(a, b))
    if key not in cache:
        m = verts[a] + verts[b]
        verts.append(m / np.linalg.norm(m))
        cache[key] = len(verts) - 1
    return cache[key]


@dataclass
class Frame:
    """Particles at one instant (um), what the protocol was doing, and the frame's id in its file."""

    label: str
    frame: int
    position_um: np.ndarray
    radius_um: np.ndarray
    phase: np.ndarray


@dataclass
class Curve:
    """Per-frame heights (um) and plate pressure (MPa, NaN where nothing presses) of a whole time series."""

    frame: np.ndarray
    label: list[str]
    plate_um: np.ndarray
    film_top_um: np.ndarray
    pressure_mpa: np.ndarray


COLUMNS = ["stage", "frame", "step", "type_id", "radius_um", "x_um", "y_um", "z_um", "wall_top_um"]


def read_time_series(path: str | Path, max_frames: int = MAX_FRAMES) -> tuple[list[Frame], Curve]:
    """Up to `max_frames` evenly spaced frames (first and last kept) of a time-series Parquet file, and
    the heights and pressure of every frame (files written before `wall_pressure_pa` existed: NaN)."""
    path = Path(path)
    try:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=COLUMNS + [c for c in ("wall_pressure_pa",) if c in names])
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a time series ({exc})") from None
    col = {n: np.asarray(table.column(n)) for n in table.column_names if n != "stage"}
    stage = np.asarray(table.column("stage").to_pylist())
    starts = np.concatenate([[0], np.flatnonzero(np.diff(col["frame"])) + 1])  # one row group per frame
    ids = col["frame"][starts]
    pressure = col.get("wall_pressure_pa", np.full(len(stage), np.nan))
    labels = [f"{stage[i]}, step {int(col['step'][i])}" for i in starts]
    curve = Curve(
        ids,
        labels,
        col["wall_top_um"][starts].astype(float),
        np.maximum.reduceat(col["z_um"] + col["radius_um"], starts).astype(float),
        1e-6 * pressure[starts].astype(float),
    )
    keep = np.unique(np.rint(np.linspace(0, len(ids) - 1, min(max_frames, len(ids)))).astype(int))
    ends = np.append(starts[1:], len(stage))
    frames = [
        Frame(
            labels[k],
            int(ids[k]),
            np.stack([col[a][starts[k] : ends[k]] for a in ("x_um", "y_um", "z_um")], axis=1).astype(float),
            col["radius_um"][starts[k] : ends[k]].astype(float),
            np.where(col["type_id"][starts[k] : ends[k]] == AM_TYPE, AM, CBD),
        )
        for k in keep
    ]
    return frames, curve


def _coarse(field: np.ndarray, max_cells: int) -> tuple[np.ndarray, int]:
    """Block mean of a 3D field down to at most `max_cells` per axis; returns it and the block size."""
    block = int(np.ceil(max(field.shape) / max_cells))
    shape = tuple(n // block for n in field.shape)
    cut = field[: shape[0] * block, : shape[1] * block, : shape[2] * block]
    return cut.reshape(shape[0], block, shape[1], block, shape[2], block).mean(axis=(1, 3, 5)), block


def layer_traces(structure: ElectrodeStructure, voxel_um: float = VOXEL_SIZE_UM) -> list[dict[str, Any]]:
    """Plotly traces of the pore phase, the concentration slice and the shortest path (hidden at first)."""
    image = voxelize_spheres(
        structure.position_um,
        structure.radius_um,
        structure.phase,
        tuple(structure.lateral_um),
        voxel_um,
        thickness_um=structure.thickness_um,
    )
    labels, h = image.labels, image.voxel_size_um
    pore, block = _coarse((labels == PORE).astype(float), MAX_GRID)
    cell = h * block
    gx, gy, gz = (cell * (np.arange(n) + 0.5) for n in pore.shape)
    mx, my, mz = np.meshgrid(gx, gy, gz, indexing="ij")
    traces: list[dict[str, Any]] = [
        {
            "type": "isosurface",
            "name": "pore phase",
            "x": mx.ravel().round(3).tolist(),
            "y": my.ravel().round(3).tolist(),
            "z": mz.ravel().round(3).tolist(),
            "value": pore.ravel().round(3).tolist(),
            "isomin": 0.5,
            "isomax": 1.0,
            "surface": {"count": 1},
            "caps": {"x": {"show": False}, "y": {"show": False}, "z": {"show": False}},
            "colorscale": [[0, COLOURS["pore"]], [1, COLOURS["pore"]]],
            "showscale": False,
            "opacity": 0.45,
            "visible": False,
            "hoverinfo": "skip",
        },
    ]
    # as sims.electrode_metrics.structure_metrics with its default (Bruggeman) CBD transport
    d_cbd = cbd_relative_diffusivity("bruggeman", get_material(structure.material).cbd.nanoporosity)
    solver = TortuositySolver(image, "z", phase_diffusivity={PORE: 1.0, CBD: d_cbd})
    result = solver.solve()
    j = labels.shape[1] // 2
    c = solver.concentration[:, j, :]  # (x, z)
    step = max(1, int(np.ceil(max(c.shape) / 120)))
    c = c[::step, ::step]
    xs = h * (np.arange(labels.shape[0])[::step] + 0.5)
    zs = h * (np.arange(labels.shape[2])[::step] + 0.5)
    zz = np.where(np.isnan(c), np.nan, zs[None, :]).T  # holes where no electrolyte carries the flux
    traces.append(
        {
            "type": "surface",
            "name": f"concentration (tau = {result.tortuosity_factor:.3g})",
            "x": xs.round(3).tolist(),
            "y": np.full_like(zz, (j + 0.5) * h).round(3).tolist(),
            "z": _nan_to_none(zz.round(3)),
            "surfacecolor": _nan_to_none(c.T.round(4)),
            "cmin": 0.0,
            "cmax": 1.0,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "c / c_in"}, "len": 0.5},
            "visible": False,
            "hovertemplate": "x %{x:.1f} um, z %{z:.1f} um: c = %{surfacecolor:.3f}<extra></extra>",
        }
    )
    path = shortest_pore_path(image, "z")
    if len(path):
        p = h * (path + 0.5)
        length = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
        traces.append(
            {
                "type": "scatter3d",
                "mode": "lines",
                "name": f"shortest pore path ({length / (len(labels[0, 0]) - 1):.3g}x)",
                "x": p[:, 0].round(3).tolist(),
                "y": p[:, 1].round(3).tolist(),
                "z": p[:, 2].round(3).tolist(),
                "line": {"color": COLOURS["path"], "width": 8},
                "visible": False,
            }
        )
    return traces


def _nan_to_none(a: np.ndarray) -> list[Any]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in a]


def _frame_json(frame: Frame | ElectrodeStructure, label: str, frame_id: int | None) -> dict[str, Any]:
    pos = frame.position_um
    return {
        "label": label,
        "frame": frame_id,
        "x": pos[:, 0].round(2).tolist(),
        "y": pos[:, 1].round(2).tolist(),
        "z": pos[:, 2].round(2).tolist(),
        "r": frame.radius_um.round(3).tolist(),
        "phase": frame.phase.astype(int).tolist(),
    }


def _curve_json(curve: Curve | None) -> dict[str, Any] | None:
    if curve is None:
        return None
    return {
        "frame": curve.frame.tolist(),
        "label": curve.label,
        **{
            key: [None if not np.isfinite(v) else round(float(v), 4) for v in values]
            for key, values in (
                ("plate", curve.plate_um),
                ("top", curve.film_top_um),
                ("pressure", curve.pressure_mpa),
            )
        },
    }


def view_html(
    structure: ElectrodeStructure,
    *,
    title: str,
    series: tuple[list[Frame], Curve] | None = None,
    parameters: Mapping[str, object] | None = None,
    outcomes: Mapping[str, float] | None = None,
    campaign: Campaign | None = None,
    layers: bool = True,
) -> str:
    """The 3D view of `structure` (the last slider position when there are frames) as HTML."""
    lx, ly = (float(v) for v in structure.lateral_um)
    frames, curve = series if series is not None else ([], None)
    shown = [_frame_json(f, f.label, f.frame) for f in frames]
    shown.append(
        _frame_json(structure, "final structure", int(curve.frame[-1]) if curve is not None else None)
    )
    templates = {}
    for phase, level in SPHERE_LEVEL.items():
        v, f = icosphere(level)
        templates[str(phase)] = {"v": v.round(5).ravel().tolist(), "f": f.ravel().tolist()}
    payload = {
        "frames": shown,
        "curve": _curve_json(curve),
        "templates": templates,
        "colours": {str(k): v for k, v in COLOURS.items()},
        "box": {"lx": lx, "ly": ly, "thickness": structure.thickness_um},
        "layers": layer_traces(structure) if layers else [],
    }
    panel = line_panel(parameters or {}, outcomes or {}, campaign) if parameters or outcomes else ""
    counts = {name: int(np.sum(structure.phase == label)) for name, label in (("AM", AM), ("CBD", CBD))}
    summary = (
        f"{structure.material}: {counts['AM']} AM and {counts['CBD']} CBD particles, "
        f"box {lx:.1f} x {ly:.1f} um, "
        f"thickness {structure.thickness_um:.1f} um (collector at z = 0)"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>{panel}"
        '<div id="controls"><span id="layers"></span></div>'
        '<div id="main"><div id="scene"></div><div id="side"><div id="curve"></div>'
        '<div id="timebox"><input type="range" id="time" min="0" value="0"> '
        '<span id="timelabel"></span></div>'
        "</div></div>"
        f'<script type="text/javascript">window.VIEW = {json.dumps(payload, separators=(",", ":"))};</script>'
        f'<script type="text/javascript">{_JS.read_text(encoding="utf-8")}</script></body></html>'
    )


_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 16px; color: #222; }
h1 { font-size: 1.3em; margin: 10px 0 2px; }
#controls { margin: 8px 0; font-size: 14px; } #controls label { margin-right: 14px; }
#main { display: flex; gap: 10px; } #scene { flex: 3; height: 720px; } #side { flex: 2; min-width: 320px; }
#curve { height: 380px; } #timebox { margin: 8px; } #time { width: 80%; }
"""


def write_view(path: str | Path, structure: ElectrodeStructure, **kwargs: Any) -> Path:
    """Write the 3D view of `structure` to `path` (see view_html for the options)."""
    path = Path(path)
    path.write_text(view_html(structure, **kwargs), encoding="utf-8")
    return path
