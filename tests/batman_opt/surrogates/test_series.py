"""The dem-series dataset: conditions split by formulation, frames that follow the DEM's film
through drying and calendering, failed recipes kept with their reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batman_opt.errors import InputError
from batman_opt.surrogates.series import (
    CALENDERING_STAGES,
    DRYING_STAGES,
    TEST_FORMULATION,
    TRAIN_FORMULATION,
    DemSeries,
    default_design,
    write_dem_series,
)


def test_design_splits_by_condition():
    design = default_design(n_train=12, n_test=4, val_fraction=0.25, seed=3)
    assert (design.loc[design["split"] == "test", "am_mass_fraction"] == TEST_FORMULATION).all()
    assert (design.loc[design["split"] != "test", "am_mass_fraction"] == TRAIN_FORMULATION).all()
    assert (design["split"] == "val").sum() == 3
    assert design["recipe"].is_unique and design["seed"].is_unique
    conditions = design.drop(columns=["recipe", "split", "seed"])
    assert not conditions.duplicated().any()


def test_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        write_dem_series(tmp_path, default_design(1, 0))


@pytest.mark.slow
def test_series_follow_the_film(tmp_path):
    design = default_design(n_train=1, n_test=0, seed=0)
    broken = design.assign(recipe="r001", compression_ratio=0.97, seed=7)  # denser than the solids
    out = tmp_path / "ds"
    table = write_dem_series(out, pd.concat([design, broken]), every=500)
    assert list(table["status"]) == ["ok", "failed"]
    assert "gap" in table["reason"].iloc[1] or "dens" in table["reason"].iloc[1]

    data = DemSeries(out)
    assert data.ids() == ["r000"]
    series = data.series("r000")
    stages = list(dict.fromkeys(series.stage))
    assert stages == [s for s in (*DRYING_STAGES, *CALENDERING_STAGES) if s in stages]
    for protocol in (DRYING_STAGES, CALENDERING_STAGES):  # steps count per protocol
        assert np.all(np.diff(series.frames(protocol).step) > 0)
    # calendering starts from the dried film
    np.testing.assert_array_equal(
        series.frames(DRYING_STAGES).position_um[-1], series.frames(CALENDERING_STAGES).position_um[0]
    )
    frames = pd.read_parquet(out / "frames.parquet")
    drying = frames[frames["stage"].isin(DRYING_STAGES)]
    assert drying["thickness_um"].iloc[0] > 1.5 * drying["thickness_um"].iloc[-1]  # the film shrank
    calendering = frames[frames["stage"].isin(CALENDERING_STAGES)]
    loaded = calendering["thickness_um"].min()
    final = calendering["thickness_um"].iloc[-1]
    assert loaded < final  # spring-back
    assert np.sign(final - loaded) == np.sign(table["spring_back_pct"].iloc[0])
    dried = data.structure("r000", "dried")
    assert dried.thickness_um == pytest.approx(drying["thickness_um"].iloc[-1], rel=0.05)
    calendered = data.structure("r000", "calendered")
    assert calendered.thickness_um == pytest.approx(final, rel=0.05)
    # the last frame is the calendered electrode, particle for particle
    np.testing.assert_allclose(series.position_um[-1, :, 2], calendered.position_um[:, 2], atol=0.05)
