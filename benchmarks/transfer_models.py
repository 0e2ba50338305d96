"""TL property models against scratch: four source -> target studies at target sizes 5...100 %.

Studies (datasets under campaigns/data, rebuilt by the commands in campaigns/data/README.md):
- graphite -> NMC111 and graphite -> SiGr: process-model graphite (4,000 recipes) to DEM targets
  (density, mass loading) over solid content, AM fraction, compression, comma gap, coating speed.
- GDL200 -> GDL1000: small-domain GDLs to large-domain GDLs (geometric tortuosity in-plane and
  through-plane) from fibre radius, porosity, binder fraction, anisotropy, compression.
- sim -> real: textbook process model over the lab's recipe space (2,000 recipes) to the 82 NMC111
  lab recipes of ../shared/datasets/nmc_cunha2020 (mass loading of solids, porosity), skipped when
  that folder is absent.

For each study one source ensemble is pretrained (seeded; at most 2,500 source rows, of which 20 %
decide early stopping). Each repeat holds out 20 % of the target
recipes (whole recipes: a lab recipe's replicate punches stay together; scores are on recipe means)
and trains on the first 5, 10, 20, 50, 100 % of the other recipes (at least 2): TL shifts the source
ensemble's outputs onto the target's mean and fine-tunes it with its first layer frozen and the others
pulled toward their pretrained weights (L2-SP); scratch trains the same architecture on the target
alone. Tables: mean and standard deviation over repeats
of R2 and MAE per output. The pretrained source ensembles are saved beside the JSON (safetensors and
a JSON card with the source's provenance). Goal: TL's mean R2 above scratch's at every size < 50 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from batman_opt.transfer.datasets import (
    ELECTRODE_INPUTS,
    ELECTRODE_SPACE,
    LAB_INPUTS,
    LAB_SPACE,
    load_lab_recipes,
    read_provenance,
)
from batman_opt.transfer.models import MLPConfig, MLPEnsemble, save_model
from batman_opt.transfer.training import TrainConfig, fine_tune, train_from_scratch
from sims.gdl import GDL_PARAMETER_RANGES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "campaigns" / "data"
LAB_DIR = ROOT.parent / "shared" / "datasets" / "nmc_cunha2020"
FRACTIONS = (0.05, 0.10, 0.20, 0.50, 1.00)
TEST_FRACTION = 0.2
SOURCE_VALIDATION = 0.2  # share of the source kept aside for early stopping of the pretraining
N_FROZEN = 1
PULL = 0.1  # L2-SP weight of fine-tuning (batman_opt/transfer/training.py; benchmarks/README.md)
GDL_INPUTS = (
    "fibre_radius_um",
    "porosity_uncompressed",
    "binder_fraction",
    "anisotropy",
    "compression_ratio",
)
GDL_BOUNDS = {("porosity_uncompressed" if k == "porosity" else k): v for k, v in GDL_PARAMETER_RANGES.items()}


@dataclass(frozen=True)
class Study:
    """A source table, a target table with a `recipe` column, their shared inputs, outputs, bounds."""

    name: str
    source: pd.DataFrame
    target: pd.DataFrame
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    bounds: np.ndarray  # (n_inputs, 2)
    source_file: Path


@dataclass(frozen=True)
class Settings:
    repeats: int
    members: int
    hidden: tuple[int, ...]
    pretrain: TrainConfig
    tune: TrainConfig
    scratch: TrainConfig
    max_source: int


def finite_rows(table: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows whose `columns` are all finite (a non-percolating GDL has an infinite tortuosity)."""
    return table[np.isfinite(table[list(columns)].to_numpy(dtype=float)).all(axis=1)].reset_index(drop=True)


def with_recipe_ids(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(recipe=np.arange(len(table)))


def load_studies(lab_dir: Path) -> tuple[list[Study], list[str]]:
    """The studies whose data are present, and a note per study skipped."""
    electrode_bounds = np.array([ELECTRODE_SPACE[k] for k in ELECTRODE_INPUTS])
    electrode_out = ("density_g_cm3", "mass_loading_mg_cm2")
    gdl_out = ("geometric_tortuosity_in_plane", "geometric_tortuosity_through_plane")
    gdl_bounds = np.array([GDL_BOUNDS[k] for k in GDL_INPUTS])
    plans = [
        (
            "graphite -> NMC111",
            "graphite_process",
            "nmc111_dem",
            ELECTRODE_INPUTS,
            electrode_out,
            electrode_bounds,
        ),
        (
            "graphite -> SiGr",
            "graphite_process",
            "sigr_dem",
            ELECTRODE_INPUTS,
            electrode_out,
            electrode_bounds,
        ),
        ("GDL200 -> GDL1000", "gdl200", "gdl1000", GDL_INPUTS, gdl_out, gdl_bounds),
    ]
    studies, notes = [], []
    for name, source, target, inputs, outputs, bounds in plans:
        missing = [f"{DATA / f}.parquet" for f in (source, target) if not (DATA / f"{f}.parquet").is_file()]
        if missing:
            notes.append(
                f"{name} skipped: {', '.join(missing)} not found (campaigns/data/README.md rebuilds it)"
            )
            continue
        source_table = finite_rows(pd.read_parquet(DATA / f"{source}.parquet"), outputs)
        target_table = with_recipe_ids(finite_rows(pd.read_parquet(DATA / f"{target}.parquet"), outputs))
        studies.append(
            Study(name, source_table, target_table, inputs, outputs, bounds, DATA / f"{source}.parquet")
        )
    if not lab_dir.is_dir():
        return studies, [*notes, f"sim -> real skipped: lab data not found at {lab_dir}"]
    studies.append(
        Study(
            "sim NMC111 -> lab NMC111",
            pd.read_parquet(DATA / "nmc111_lab_space.parquet"),
            load_lab_recipes(lab_dir),
            LAB_INPUTS,
            ("mass_loading_mg_cm2", "porosity"),
            np.array([LAB_SPACE[k] for k in LAB_INPUTS]),
            DATA / "nmc111_lab_space.parquet",
        )
    )
    return studies, notes


def scores(model: MLPEnsemble, test: pd.DataFrame, study: Study) -> dict[str, dict[str, float]]:
    """R2 and MAE per output on the recipe means of `test`."""
    means = test.groupby("recipe")[[*study.inputs, *study.outputs]].mean()
    x = torch.from_numpy(means[list(study.inputs)].to_numpy(dtype=np.float32, copy=True))
    predicted = model.predict(x)[0].numpy()
    out = {}
    for j, name in enumerate(study.outputs):
        y = means[name].to_numpy()
        residual = predicted[:, j] - y
        out[name] = {
            "r2": float(1.0 - np.sum(residual**2) / np.sum((y - y.mean()) ** 2)),
            "mae": float(np.mean(np.abs(residual))),
        }
    return out


def run_study(study: Study, settings: Settings, seed: int, models_dir: Path) -> dict:
    """Pretrain once (saved under `models_dir`), then TL and scratch for every repeat and target size."""
    source = study.source
    if len(source) > settings.max_source:
        source = source.sample(settings.max_source, random_state=seed)
    config = MLPConfig(
        inputs=study.inputs,
        outputs=study.outputs,
        hidden=settings.hidden,
        n_members=settings.members,
        seed=seed,
    )
    xy = lambda t: (t[list(study.inputs)].to_numpy(), t[list(study.outputs)].to_numpy())  # noqa: E731
    order = np.random.default_rng(seed).permutation(len(source))
    n_val = max(1, round(SOURCE_VALIDATION * len(source)))
    start = time.perf_counter()
    pretrained = train_from_scratch(
        config,
        *xy(source.iloc[order[n_val:]]),
        study.bounds,
        settings.pretrain,
        validation=xy(source.iloc[order[:n_val]]),
    )
    pretrain_s = time.perf_counter() - start
    model_path = models_dir / f"source_{study.source_file.stem}_{'_'.join(study.outputs)}.safetensors"
    save_model(
        pretrained,
        model_path,
        {"source": asdict(read_provenance(study.source_file)), "rows": len(source), "study": study.name},
    )
    recipes = study.target["recipe"].unique()
    n_test = max(2, round(TEST_FRACTION * len(recipes)))
    runs = []
    for repeat in range(settings.repeats):
        order = np.random.default_rng([seed, repeat]).permutation(recipes)
        test = study.target[study.target["recipe"].isin(order[:n_test])]
        pool = order[n_test:]
        for fraction in FRACTIONS:
            n_train = max(2, round(fraction * len(pool)))
            train = study.target[study.target["recipe"].isin(pool[:n_train])]
            tl = fine_tune(pretrained, *xy(train), N_FROZEN, settings.tune)
            scratch = train_from_scratch(config, *xy(train), study.bounds, settings.scratch)
            runs.append(
                {
                    "repeat": repeat,
                    "fraction": fraction,
                    "n_train_recipes": n_train,
                    "tl": scores(tl, test, study),
                    "scratch": scores(scratch, test, study),
                    "source_only": scores(pretrained, test, study),
                }
            )
    return {
        "name": study.name,
        "n_source": len(source),
        "n_target_recipes": len(recipes),
        "n_test_recipes": n_test,
        "inputs": list(study.inputs),
        "outputs": list(study.outputs),
        "pretrain_s": pretrain_s,
        "source_model": str(model_path),
        "runs": runs,
        "table": summarize(runs, study.outputs),
    }


def summarize(runs: list[dict], outputs: tuple[str, ...]) -> list[dict]:
    """One row per (output, fraction): mean and std over repeats of R2 and MAE for each model."""
    rows = []
    for name in outputs:
        for fraction in FRACTIONS:
            chosen = [r for r in runs if r["fraction"] == fraction]
            row = {"output": name, "fraction": fraction, "n_train_recipes": chosen[0]["n_train_recipes"]}
            for model in ("tl", "scratch", "source_only"):
                for metric in ("r2", "mae"):
                    values = np.array([r[model][name][metric] for r in chosen])
                    row[f"{model}_{metric}"] = float(values.mean())
                    row[f"{model}_{metric}_std"] = float(values.std())
            row["tl_wins"] = row["tl_r2"] > row["scratch_r2"]
            rows.append(row)
    return rows


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 7), squeeze=False)
    for col, study in enumerate(results):
        for row, output in enumerate(study["outputs"]):
            ax = axes[row, col]
            table = [r for r in study["table"] if r["output"] == output]
            pct = [100 * r["fraction"] for r in table]
            for model, style in (("tl", "o-"), ("scratch", "s--"), ("source_only", ":")):
                mean = np.array([r[f"{model}_r2"] for r in table])
                std = np.array([r[f"{model}_r2_std"] for r in table])
                ax.errorbar(pct, mean, yerr=std, fmt=style, capsize=3, label=model.replace("_", " "))
            ax.set_xscale("log")
            ax.set_xticks(pct, [f"{p:g}" for p in pct])
            ax.set_ylim(max(-1.0, ax.get_ylim()[0]), 1.05)
            ax.set_title(f"{study['name']}\n{output}", fontsize=9)
            ax.set_xlabel("target training size (% of pool)")
            ax.set_ylabel("R2 on held-out recipes")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", type=Path, required=True, help="results JSON; the plot goes beside it (.png)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny ensembles and few epochs (tests)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lab-dir", type=Path, default=LAB_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        tune = TrainConfig(30, 1e-3, pull=PULL)
        settings = Settings(1, 2, (16, 16, 8), TrainConfig(100), tune, TrainConfig(100), 300)
    else:
        tune = TrainConfig(400, 1e-3, pull=PULL)
        settings = Settings(args.repeats, 4, (64, 64, 32), TrainConfig(2000), tune, TrainConfig(1500), 2500)
    studies, notes = load_studies(args.lab_dir)
    start = time.perf_counter()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results = [run_study(study, settings, args.seed, args.json.parent) for study in studies]
    report = {
        "settings": {
            "repeats": settings.repeats,
            "members": settings.members,
            "hidden": list(settings.hidden),
            "n_frozen": N_FROZEN,
            "pull": PULL,
            "epochs": {"pretrain": settings.pretrain.epochs, "tune": settings.tune.epochs},
            "test_fraction": TEST_FRACTION,
            "quick": args.quick,
        },
        "notes": notes,
        "studies": results,
        "wall_s": time.perf_counter() - start,
    }
    args.json.write_text(json.dumps(report, indent=2))
    plot(results, args.json.with_suffix(".png"))
    small = [r for s in results for r in s["table"] if r["fraction"] < 0.5]
    wins = sum(r["tl_wins"] for r in small)
    print(
        f"transfer models: TL beats scratch (mean R2) in {wins}/{len(small)} cells below 50 %; "
        + "; ".join(
            f"{s['name']} at 10%: R2 TL "
            + "/".join(f"{r['tl_r2']:.2f}" for r in s["table"] if r["fraction"] == 0.1)
            + " vs scratch "
            + "/".join(f"{r['scratch_r2']:.2f}" for r in s["table"] if r["fraction"] == 0.1)
            for s in results
        )
        + f" ({report['wall_s']:.0f} s)"
        + "".join(f"; {n}" for n in notes)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
