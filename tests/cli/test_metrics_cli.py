"""`batman metrics` on .npy and TIFF images (analytic channel, library agreement, bad input) and
`batman dataset gdl` (Parquet rows, determinism)."""

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
from typer.testing import CliRunner

from batman_opt.cli import app
from sims.gdl import GDL_PARAMETER_RANGES
from sims.metrics import geometric_tortuosity, surfaces, tortuosity

runner = CliRunner()


def _channel_image() -> np.ndarray:
    """Solid (AM) block 24x12x10 with a straight 3x3 pore channel along x and a CBD slab at the top."""
    labels = np.ones((24, 12, 10), dtype=np.uint8)
    labels[:, 4:7, 3:6] = 0
    labels[:, :, 8:] = 2
    return labels


def _metrics_json(*args: str) -> dict:
    result = runner.invoke(app, ["metrics", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _one_line_error(args: list[str], *words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


def test_straight_channel_has_unit_tortuosity_along_it_and_none_across(tmp_path):
    labels = _channel_image()
    path = tmp_path / "channel.npy"
    np.save(path, labels)
    out = _metrics_json(str(path), "--voxel-um", "0.5")

    porosity = 9 / (12 * 10)
    assert out["porosity"] == pytest.approx(porosity)
    assert out["tortuosity_factor"]["x"] == pytest.approx(1.0, abs=1e-3)
    assert out["effective_diffusivity"]["x"] == pytest.approx(porosity, rel=1e-3)
    assert out["geometric_tortuosity"]["x"] == pytest.approx(1.0)
    # across the channel the pores do not percolate: infinite tortuosity as null, zero diffusivity, notes
    for ax in "yz":
        assert out["tortuosity_factor"][ax] is None and out["geometric_tortuosity"][ax] is None
        assert out["effective_diffusivity"][ax] == 0.0
        assert any(note.startswith(f"tortuosity_factor.{ax}") for note in out["notes"])
    # the same numbers as the library functions
    assert out["tortuosity_factor"]["x"] == pytest.approx(tortuosity(labels, "x").tortuosity_factor, rel=1e-9)
    assert out["geometric_tortuosity"]["x"] == pytest.approx(
        geometric_tortuosity(labels, "x").mean_tortuosity
    )
    assert out["specific_surface_um_inv"] == pytest.approx(surfaces(labels, 0.5).specific_surface_area_per_um)
    assert out["specific_surface_um_inv"] > 0 and list(out["shape"]) == [24, 12, 10]


def test_tiff_stack_with_custom_labels_measures_like_the_npy(tmp_path):
    labels = _channel_image()
    # a segmentation that stores pores as 255, AM as 10 and CBD as 20
    stored = np.choose(labels, [255, 10, 20]).astype(np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", stored)
    np.save(tmp_path / "channel.npy", labels)
    from_tiff = _metrics_json(str(tmp_path / "stack.tif"), "--labels", "pore=255,am=10,cbd=20")
    from_npy = _metrics_json(str(tmp_path / "channel.npy"))
    assert from_tiff == from_npy


def test_pores_percolating_nowhere_give_nulls_and_notes_not_nan(tmp_path):
    labels = np.ones((8, 8, 8), dtype=np.uint8)
    labels[2:5, 2:5, 2:5] = 0  # a closed cavity
    np.save(tmp_path / "cavity.npy", labels)
    out = _metrics_json(str(tmp_path / "cavity.npy"))
    assert out["tortuosity_factor"] == {"x": None, "y": None, "z": None}
    assert out["effective_diffusivity"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert len(out["notes"]) == 6


def test_table_output_reports_infinite_axes(tmp_path):
    np.save(tmp_path / "channel.npy", _channel_image())
    result = runner.invoke(app, ["metrics", str(tmp_path / "channel.npy")])
    assert result.exit_code == 0, result.output
    assert "tortuosity_factor" in result.output and "inf" in result.output and "note:" in result.output


def test_bad_images_and_options_give_one_line_and_exit_2(tmp_path):
    labels = _channel_image()
    np.save(tmp_path / "ok.npy", labels)
    _one_line_error(
        ["metrics", str(tmp_path / "ok.npy"), "--labels", "pore=0,fibre=1"], "unknown phase", "fibre"
    )
    _one_line_error(["metrics", str(tmp_path / "ok.npy"), "--labels", "pore=0,am=x"], "integer")
    _one_line_error(["metrics", str(tmp_path / "ok.npy"), "--voxel-um", "0"], "--voxel-um")

    np.save(tmp_path / "extra.npy", np.where(labels == 2, 7, labels))
    _one_line_error(["metrics", str(tmp_path / "extra.npy")], "extra.npy", "does not name", "7")
    np.save(tmp_path / "empty.npy", np.zeros((0, 4, 4), dtype=np.uint8))
    _one_line_error(["metrics", str(tmp_path / "empty.npy")], "empty.npy", "empty")
    np.save(tmp_path / "flat.npy", labels[:, :, 0])
    _one_line_error(["metrics", str(tmp_path / "flat.npy")], "flat.npy", "2-D", "3-D")
    np.save(tmp_path / "grey.npy", labels + 0.5)
    _one_line_error(["metrics", str(tmp_path / "grey.npy")], "grey.npy", "non-integer")

    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    _one_line_error(["metrics", str(tmp_path / "broken.npy")], "broken.npy", "cannot read")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    _one_line_error(["metrics", str(tmp_path / "broken.tif")], "broken.tif", "cannot read")
    _one_line_error(["metrics", str(tmp_path / "missing.npy")], "missing.npy", "no such file")
    (tmp_path / "image.png").write_bytes(b"")
    _one_line_error(["metrics", str(tmp_path / "image.png")], "image.png", "unsupported")


def test_dataset_gdl_writes_deterministic_parquet_rows(tmp_path):
    args = ["dataset", "gdl", "--n", "3", "--size", "40x40x32", "--seed", "5", "--quiet"]
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (first, second):
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    table = pd.read_parquet(first)
    pd.testing.assert_frame_equal(table, pd.read_parquet(second))
    assert len(table) == 3 and (table[["nx", "ny", "nz"]] == [40, 40, 32]).all().all()
    for name, (low, high) in GDL_PARAMETER_RANGES.items():
        column = "porosity_uncompressed" if name == "porosity" else name
        assert table[column].between(low, high).all()
    # the solid of the uncompressed layer squeezed into the thickness, within a fibre's volume
    expected = 1 - (1 - table["porosity_uncompressed"]) / (1 - table["compression_ratio"])
    assert np.allclose(table["porosity"], expected, atol=0.03)
    for quantity in ("geometric_tortuosity", "tortuosity_factor"):
        for direction in ("in_plane", "through_plane"):
            assert (table[f"{quantity}_{direction}"] >= 1.0).all()
    assert np.allclose(
        table["effective_diffusivity_ratio_z"], table["porosity"] / table["tortuosity_factor_z"], rtol=1e-9
    )


def test_dataset_gdl_rejects_bad_options(tmp_path):
    out = str(tmp_path / "x.parquet")
    _one_line_error(["dataset", "gdl", "--n", "2", "--size", "64x64", "--out", out], "--size")
    _one_line_error(["dataset", "gdl", "--n", "0", "--out", out], "--n")
    _one_line_error(
        ["dataset", "gdl", "--n", "1", "--out", str(tmp_path / "no" / "x.parquet")], "does not exist"
    )
    # a 4 um thick layer, even uncompressed from 30 %, cannot hold fibres of 6-10 um diameter
    _one_line_error(
        ["dataset", "gdl", "--n", "1", "--size", "8x8x2", "--voxel-um", "2", "--out", out], "thick"
    )
