"""The DL model of PAML's drying macro-steps: per-particle displacement over k steps of the drying.

A macro-step takes the particles of a drying film (positions, radii, phases) and the solvent
surface's heights now and k steps later, and predicts each particle's displacement (dx, dy, dz, um)
over those k steps; a second kind of macro-step, `final`, takes the film at the end of the wet
stage to the dried, relaxed film (the consolidate and relax stages of sims.protocols.drying). The
network is an `MLPEnsemble` (batman_opt.transfer.models) applied to every particle on local
descriptors (FEATURES), so it does not depend on the particle count:

- phase (is_am) and radius_um;
- height_rel = z / h_jam and surface_rel = surface / h_jam, where h_jam is the film's thickness at
  random close packing (the protocol's `h_jam`); bottom_gap_um (to the collector) and the gaps to
  the surface now and after the macro-step (gap_now_um, gap_next_um: negative where the surface
  will have passed the particle), the surface's descent_um;
- settle_um: the particle's free Stokes settling distance over the macro-step in the protocol's
  scaled solvent (m g / (6 pi mu r) k dt; 0 in the final macro-step, without solvent);
- the local packing within NEIGHBOUR_RADIUS_UM (periodic in x and y, scipy cKDTree): solid
  fraction around, below and above the particle, and its number of touching neighbours;
- the drying conditions (solid_content, drying_rate) and the final flag.

The model also carries the solvent surface's schedule, as lines in the conditions fitted on the
training recipes: `slow_ratio`, the height over h_jam where the DEM's surface, having met the
film, slowed down for good, and `stop_ratio`, where the wet stage ended (the surface met the
capillary pressure). PAML's surface descends fast to the first and slow to the second.

Training conditions: the model card holds the window of the training recipes per condition
(`window`). `check_conditions` returns a note for a condition outside it but within MARGIN (a
fraction of the window's width, at least MIN_MARGIN for the AM mass fraction, which is a single
value in training: 0.96, so the 94:6 test formulation is a note) and refuses one beyond.

Files: safetensors weights + JSON card (transfer.models.save_model), with the weights' SHA-256 in
the card so that an altered weights file is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from batman_opt.errors import InputError
from batman_opt.transfer.models import MLPEnsemble, ModelCard, load_model, save_model

FEATURES = (
    "is_am",
    "radius_um",
    "height_rel",
    "surface_rel",
    "bottom_gap_um",
    "gap_now_um",
    "gap_next_um",
    "descent_um",
    "settle_um",
    "phi_local",
    "phi_below",
    "phi_above",
    "contacts",
    "solid_content",
    "drying_rate",
    "final",
)
OUTPUTS = ("dx_um", "dy_um", "dz_um")
CONDITIONS = ("am_mass_fraction", "solid_content", "drying_rate")
NEIGHBOUR_RADIUS_UM = 4.0
CONTACT_TOLERANCE = 0.02  # centres closer than (1 + this) (r_i + r_j) touch
MARGIN = 0.25  # of the training window's width: beyond, a model refuses
MIN_MARGIN = {"am_mass_fraction": 0.03}
MODEL_VERSION = 1
DEFAULT_MODEL = Path(__file__).parent / "models" / "drying.safetensors"


class OutsideTrainingWindow(InputError):
    """The conditions lie beyond the model's training window plus its margin."""


@dataclass(frozen=True)
class MacroStep:
    """The context of one macro-step (lengths in um): the surface now and after it, the steps it
    spans, each particle's free settling speed (um per step), h_jam and the conditions."""

    surface_now_um: float
    surface_next_um: float
    k_steps: int
    settle_um_per_step: np.ndarray
    h_jam_um: float
    solid_content: float
    drying_rate: float
    final: bool = False


def local_packing(
    position_um: np.ndarray, radius_um: np.ndarray, lateral_um: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solid fraction within NEIGHBOUR_RADIUS_UM of each particle (its own volume and the
    neighbours' whose centres lie inside), the same over the half spaces below and above, and the
    number of touching neighbours; periodic in x and y. Arrays (N,)."""
    lx, ly = float(lateral_um[0]), float(lateral_um[1])
    p = np.array(position_um, dtype=np.float64)
    p[:, 0] %= lx
    p[:, 1] %= ly
    p[:, 2] = np.clip(p[:, 2], 0.0, None)
    tree = cKDTree(p, boxsize=[lx, ly, 1e9])
    pairs = tree.query_pairs(NEIGHBOUR_RADIUS_UM, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    d = p[i] - p[j]
    d[:, 0] -= lx * np.round(d[:, 0] / lx)
    d[:, 1] -= ly * np.round(d[:, 1] / ly)
    dist = np.linalg.norm(d, axis=1)
    r = np.asarray(radius_um, dtype=np.float64)
    vol = 4.0 / 3.0 * np.pi * r**3
    n = len(r)
    shell = 4.0 / 3.0 * np.pi * NEIGHBOUR_RADIUS_UM**3
    around = vol + np.bincount(i, vol[j], n) + np.bincount(j, vol[i], n)
    j_below = d[:, 2] > 0.0  # i above j
    below = np.bincount(i[j_below], vol[j[j_below]], n) + np.bincount(j[~j_below], vol[i[~j_below]], n)
    above = np.bincount(i[~j_below], vol[j[~j_below]], n) + np.bincount(j[j_below], vol[i[j_below]], n)
    touching = dist < (1.0 + CONTACT_TOLERANCE) * (r[i] + r[j])
    contacts = np.bincount(i[touching], minlength=n) + np.bincount(j[touching], minlength=n)
    return around / shell, 2.0 * below / shell, 2.0 * above / shell, contacts.astype(np.float64)


def particle_features(
    position_um: np.ndarray,
    radius_um: np.ndarray,
    type_id: np.ndarray,
    lateral_um: np.ndarray,
    step: MacroStep,
    packing: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """FEATURES of every particle for one macro-step, (N, len(FEATURES)) float32; `packing`: the
    frame's `local_packing` when already computed."""
    z = np.asarray(position_um[:, 2], dtype=np.float64)
    r = np.asarray(radius_um, dtype=np.float64)
    around, below, above, contacts = packing or local_packing(position_um, r, lateral_um)
    n = len(r)
    settle = np.zeros(n) if step.final else np.asarray(step.settle_um_per_step) * step.k_steps
    columns = (
        (np.asarray(type_id) == 0).astype(np.float64),
        r,
        z / step.h_jam_um,
        np.full(n, step.surface_now_um / step.h_jam_um),
        z - r,
        step.surface_now_um - z - r,
        step.surface_next_um - z - r,
        np.full(n, step.surface_now_um - step.surface_next_um),
        settle,
        around,
        below,
        above,
        contacts,
        np.full(n, step.solid_content),
        np.full(n, step.drying_rate),
        np.full(n, float(step.final)),
    )
    return np.stack(columns, axis=1).astype(np.float32)


class DryingModel:
    """A trained macro-step model: the network, its card and what PAML needs from them."""

    def __init__(self, net: MLPEnsemble, card: ModelCard) -> None:
        if tuple(net.config.inputs) != FEATURES or tuple(net.config.outputs) != OUTPUTS:
            raise InputError(
                f"not a drying macro-step model: inputs {net.config.inputs}, outputs {net.config.outputs}"
            )
        self.net, self.card = net, card
        prov = card.provenance
        try:
            self.window = {k: (float(v[0]), float(v[1])) for k, v in prov["window"].items()}
            self.schedule_coef = {
                name: np.asarray(prov["schedule"][name], dtype=np.float64).reshape(3)
                for name in ("slow_ratio", "stop_ratio")
            }
            self.k_range = (int(prov["k_steps"][0]), int(prov["k_steps"][1]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"drying model card lacks its window, schedule or k range ({exc})") from None

    @property
    def provenance(self) -> dict[str, Any]:
        return self.card.provenance

    @torch.no_grad()
    def displacement(self, features: np.ndarray) -> np.ndarray:
        """Ensemble-mean displacement (N, 3) um for FEATURES rows (N, len(FEATURES))."""
        mean, _ = self.net.predict(torch.as_tensor(features, dtype=torch.float32))
        return mean.numpy().astype(np.float64)

    def schedule(self, solid_content: float, drying_rate: float) -> tuple[float, float]:
        """(slow_ratio, stop_ratio): the surface's heights over h_jam where it slows down and where
        the wet stage ends, at these conditions (module doc)."""
        x = np.array([1.0, solid_content, drying_rate])
        return float(self.schedule_coef["slow_ratio"] @ x), float(self.schedule_coef["stop_ratio"] @ x)

    def check_conditions(self, conditions: dict[str, float]) -> list[str]:
        """Notes for conditions outside the training window within the margin; raises
        OutsideTrainingWindow beyond it (module doc)."""
        notes = []
        for name, (low, high) in self.window.items():
            value = float(conditions[name])
            if low <= value <= high:
                continue
            margin = max(MARGIN * (high - low), MIN_MARGIN.get(name, 0.0))
            where = f"{name} = {value:g} outside the drying model's training window [{low:g}, {high:g}]"
            if value < low - margin or value > high + margin:
                raise OutsideTrainingWindow(f"{where} by more than its margin {margin:g}: refused")
            notes.append(f"{where} (within the margin {margin:g}: extrapolated)")
        return notes


def weights_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_drying_model(net: MLPEnsemble, path: Path, provenance: dict[str, Any]) -> None:
    """Write the weights (safetensors) and the card (JSON, with the weights' SHA-256)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(net, path, provenance)
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["provenance"]["weights_sha256"] = weights_sha256(path)
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True))


def load_drying_model(path: Path | None = None) -> DryingModel:
    """The model at `path` (default: the shipped one), no pickle; InputError naming the file when
    it is missing, altered (its SHA-256 differs from the card's) or not a drying model."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise InputError(f"{path}: no drying model there (train one with `batman train drying`)")
    net, card = load_model(path)
    expected = card.provenance.get("weights_sha256")
    if expected != weights_sha256(path):
        raise InputError(f"{path}: the weights do not match their card's SHA-256 (altered file): refused")
    return DryingModel(net, card)
