"""Campaign YAML: valid files load, bad ones give one line naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from batman_opt.errors import SpecError
from batman_opt.spec import ChoiceParameter, FixedParameter, RangeParameter, load_campaign

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: demo
material: NMC111
parameters:
  - {name: comma_gap_um, type: float, bounds: [50, 400]}
  - {name: solid_content, type: float, bounds: [0.55, 0.75]}
  - {name: am_mass_fraction, type: choice, values: [0.94, 0.96]}
  - {name: coating_speed_m_min, type: fixed, value: 0.3}
objectives:
  - {name: density_g_cm3, goal: target, target: 3.0, tolerance: 0.05}
  - {name: tortuosity_factor, goal: minimize}
outcome_constraints: ["porosity >= 0.2"]
parameter_constraints: ["solid_content + 0.001 * comma_gap_um <= 1.1"]
evaluator: {kind: process, agents: 2}
budget: {max_trials: 20, batch_size: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    return path


def test_a_valid_campaign_loads_into_typed_models(tmp_path):
    campaign = load_campaign(write(tmp_path, GOOD))
    kinds = [type(p) for p in campaign.parameters]
    assert kinds == [RangeParameter, RangeParameter, ChoiceParameter, FixedParameter]
    assert campaign.fixed_values == {"coating_speed_m_min": 0.3}
    assert [t.name for t in campaign.targets] == ["density_g_cm3"]
    assert campaign.evaluator.agents == 2 and campaign.budget.max_trials == 20


@pytest.mark.parametrize("path", sorted((ROOT / "campaigns").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_campaigns_validate(path):
    if "../../shared" in path.read_text() and not (ROOT.parent / "shared" / "datasets").is_dir():
        pytest.skip("../shared/datasets is absent")
    load_campaign(path)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "budget: {max_trials: 20",
            "budget: {max_trialz: 20",
            r"campaign.yaml:14: budget.max_trialz: unknown key 'max_trialz'",
        ),
        (
            "bounds: [50, 400]",
            "bounds: [400, 50]",
            r"campaign.yaml:4: parameters.0: bounds of 'comma_gap_um' must be",
        ),
        ("material: NMC111", "material: LFP", r"campaign.yaml:2: material: unknown material 'LFP'"),
        ("agents: 2", "agents: two", r"campaign.yaml:13: evaluator.agents: Input should be a valid integer"),
        ("kind: process", "kind: quantum", r"evaluator.kind: unknown evaluator kind 'quantum'"),
        ("type: choice", "type: categorical", r"parameters.2: type must be one of"),
        ("goal: minimize", "goal: minimise", r"objectives.1.goal: Input should be"),
        ("tolerance: 0.05", "tolerance: -1", r"tolerance of 'density_g_cm3' must be > 0"),
        (
            "name: am_mass_fraction",
            "name: am_mass_frac",
            r"campaign.yaml:6: parameters.2.name: 'am_mass_frac' is not an input of the 'process' evaluator",
        ),
        (
            "name: comma_gap_um",
            "name: comma_gap_mm",
            r"campaign.yaml:12: parameter_constraints.0: .* names 'comma_gap_um', which is not a range",
        ),
        (
            "porosity >= 0.2",
            "porosty >= 0.2",
            r"campaign.yaml:11: outcome_constraints.0: .* 'porosty', which is not an outcome of",
        ),
        ("porosity >= 0.2", "porosity == 0.2", r"campaign.yaml:11: outcome_constraints.0: .*exactly one"),
    ],
)
def test_bad_campaigns_name_file_line_and_field(tmp_path, old, new, expected):
    assert old in GOOD
    with pytest.raises(SpecError, match=expected) as info:
        load_campaign(write(tmp_path, GOOD.replace(old, new, 1)))
    assert "\n" not in str(info.value)


def test_broken_yaml_and_missing_files_are_one_line(tmp_path):
    with pytest.raises(SpecError, match=r"campaign.yaml:2: invalid YAML: mapping values are not allowed"):
        load_campaign(write(tmp_path, "name: x\nseed: 1: 2\n"))
    with pytest.raises(SpecError, match="cannot read campaign file"):
        load_campaign(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_campaign(write(tmp_path, "- just\n- a list\n"))


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path):
    with pytest.raises(SpecError, match="invalid YAML"):
        load_campaign(write(tmp_path, "name: !!python/object/apply:os.system ['true']\n"))
