"""benchmarks/transfer_models.py --quick on the shipped datasets: tables, plot, skip without lab data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from batman_opt.transfer.models import load_model

ROOT = Path(__file__).resolve().parents[3]


def load_benchmark():
    """benchmarks/transfer_models.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "transfer_models", ROOT / "benchmarks" / "transfer_models.py"
    )
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up while being defined
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.slow
def test_quick_benchmark_writes_tables_and_plot(tmp_path, capsys):
    bench = load_benchmark()
    out = tmp_path / "tl.json"
    assert bench.main(["--json", str(out), "--quick", "--lab-dir", str(tmp_path / "absent")]) == 0
    report = json.loads(out.read_text())
    names = [s["name"] for s in report["studies"]]
    assert {"graphite -> NMC111", "GDL200 -> GDL1000"} <= set(names)  # their datasets ship in the repo
    assert "sim NMC111 -> lab NMC111" not in names
    assert report["notes"][-1] == f"sim -> real skipped: lab data not found at {tmp_path / 'absent'}"
    for study in report["studies"]:
        assert [r["fraction"] for r in study["table"]] == [*bench.FRACTIONS] * 2
        sizes = [r["n_train_recipes"] for r in study["table"][:5]]
        assert (
            sizes == sorted(sizes)
            and sizes[0] >= 2
            and sizes[-1] == study["n_target_recipes"] - study["n_test_recipes"]
        )
    assert out.with_suffix(".png").stat().st_size > 10_000
    model, card = load_model(Path(report["studies"][0]["source_model"]))  # the pretrained source, no pickle
    assert card.provenance["source"]["generator"] == "process_dataset"
    assert model.config.outputs == ("density_g_cm3", "mass_loading_mg_cm2")
    assert "transfer models: TL beats scratch" in capsys.readouterr().out
