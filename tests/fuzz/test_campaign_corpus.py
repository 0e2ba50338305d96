"""A fixed corpus of hostile campaign files (each found crashing, hanging or passing `validate` only to
fail every trial): `batman validate` answers each with one plain error line naming the place, exit 2."""

from __future__ import annotations

import gzip
import re

import pytest
import yaml

from batman_opt.spec import load_campaign
from tests.fuzz.hostile import BASE, batman


def replaced(old: str, new: str) -> bytes:
    assert old in BASE, old
    return BASE.replace(old, new, 1).encode()


SUM_1000 = " + ".join(["solid_content"] * 1000) + " <= 1"
MINUS_3000 = "-" * 3000 + "solid_content <= 1"

# id -> (file content, regex the single error line must match)
CORPUS: dict[str, tuple[bytes, str]] = {
    "binary": (bytes(range(256)) * 4, r"holds binary data"),
    "utf-16": (BASE.encode("utf-16"), r"holds UTF-16 text, not text; save it as UTF-8"),
    "latin-1": (BASE.replace("demo", "démo").encode("latin-1"), r"campaign.yaml:1: not UTF-8 text"),
    "gzip": (gzip.compress(BASE.encode()), r"holds gzip-compressed data"),
    "nul": (replaced("name: demo", "name: de\x00mo"), r"campaign.yaml:1: holds binary data \(a NUL byte\)"),
    "bel": (
        replaced("seed: 3", "seed: 3\x07"),
        r"campaign.yaml:2: invalid YAML: unacceptable character #x0007",
    ),
    "deep-nesting": (
        b"options: " + b"[" * 2000 + b"]" * 2000,
        r"invalid YAML: nested too deeply|nested more than",
    ),
    "deep-nesting-mild": (b"options: " + b"[" * 100 + b"]" * 100, r"nested more than 24 levels"),
    "unhashable-key": (
        BASE.encode() + b"? [a, b]\n: 1\n",
        r"campaign.yaml:16: invalid YAML: key \['a', 'b'\] is not text",
    ),
    "integer-key": (BASE.encode() + b"1: 2\n", r"campaign.yaml:16: invalid YAML: key 1 is not text"),
    "yes-key": (BASE.encode() + b"yes: 1\n", r"campaign.yaml:16: yes: unknown key 'yes'"),
    "duplicate-key": (BASE.encode() + b"seed: 4\n", r"campaign.yaml:16: invalid YAML: duplicate key 'seed'"),
    "division-by-zero": (
        replaced("0.001 * comma_gap_um", "comma_gap_um / 0"),
        r"campaign.yaml:13: parameter_constraints.0: .*divides by zero",
    ),
    "literal-slash-0": (
        replaced("porosity >= 0.2", "porosity >= 1 / 0"),
        r"outcome_constraints.0: .*1 / 0 divides by zero",
    ),
    "sum-of-1000": (
        replaced("solid_content + 0.001 * comma_gap_um <= 1.1", SUM_1000),
        r"parameter_constraints.0: .*characters long",
    ),
    "3000-unary-minus": (
        replaced("solid_content + 0.001 * comma_gap_um <= 1.1", MINUS_3000),
        r"parameter_constraints.0: .*characters long",
    ),
    "1MB-name": (
        replaced("name: demo", "name: " + "a" * 1_000_000),
        r"campaign.yaml:1: name: name is 1000000 characters long",
    ),
    "300-char-name": (
        replaced("name: demo", "name: " + "a" * 300),
        r"name is 300 characters long; at most 100",
    ),
    "seed-2**70": (
        replaced("seed: 3", f"seed: {2**70}"),
        r"campaign.yaml:2: seed: Input should be less than 4294967296",
    ),
    "seed-negative": (replaced("seed: 3", "seed: -1"), r"seed: Input should be greater than or equal to 0"),
    "nan-target": (
        replaced("target: 3.0", "target: .nan"),
        r"objectives.0.target: Input should be a finite number",
    ),
    "nan-tolerance": (
        replaced("tolerance: 0.05", "tolerance: .nan"),
        r"objectives.0.tolerance: Input should be a finite",
    ),
    "cpus-inf": (
        replaced("agents: 2,", "agents: 2, cpus_per_agent: .inf,"),
        r"evaluator.cpus_per_agent: Input should be a finite",
    ),
    "num-cpus-10**12": (
        BASE.encode() + b"ray: {num_cpus: 1000000000000}\n",
        r"ray.num_cpus: Input should be less than or equal to 1024",
    ),
    "cpus-above-num-cpus": (
        replaced("agents: 2,", "agents: 2, cpus_per_agent: 4,") + b"ray: {num_cpus: 2}\n",
        r"evaluator.cpus_per_agent: an agent needs 4 CPUs",
    ),
    "bool-in-constraint": (
        replaced("porosity >= 0.2", "porosity >= True"),
        r"outcome_constraints.0: .*True is not a number",
    ),
    "non-linear-outcome": (
        replaced("porosity >= 0.2", "porosity * porosity <= 0.5"),
        r"not linear \(a product of names\)",
    ),
    "non-linear-parameter": (
        replaced("0.001 * comma_gap_um", "solid_content * comma_gap_um"),
        r"parameter_constraints.0: .*not linear",
    ),
    "degenerate": (
        replaced("solid_content + 0.001 * comma_gap_um", "0 * solid_content"),
        r"parameter_constraints.0: .*constrains nothing",
    ),
    "division-of-parameter": (
        replaced("0.001 * comma_gap_um", "comma_gap_um / 1000"),
        r"divides a parameter: write",
    ),
    "infeasible": (
        replaced(
            "solid_content + 0.001 * comma_gap_um <= 1.1", "solid_content + 0.001 * comma_gap_um <= 0.5"
        ),
        r"campaign.yaml:13: parameter_constraints.0: no recipe within the bounds",
    ),
    "equality-in-disguise": (
        replaced(
            'parameter_constraints: ["solid_content + 0.001 * comma_gap_um <= 1.1"]',
            'parameter_constraints: ["solid_content <= 0.6", "solid_content >= 0.6"]',
        ),
        r"parameter_constraints.1: no recipe .* with the constraints above it",
    ),
    "bounds-1e-16-wide": (
        replaced("bounds: [0.55, 0.75]", "bounds: [0.6, 0.6000000000000001]"),
        r"parameters.0: bounds of 'solid_content' .* too narrow",
    ),
    "timeout-1e-9": (
        replaced("timeout_s: 30", "timeout_s: 1e-9"),
        r"evaluator.timeout_s: Input should be greater than or equal to 1",
    ),
    "bounds-outside-physical": (
        replaced("bounds: [0.55, 0.75]", "bounds: [1.5, 2.5]"),
        r"parameters.0.bounds: solid_content = 1.5 is outside",
    ),
    "negative-gap": (replaced("bounds: [50, 400]", "bounds: [-50, 400]"), r"comma_gap_um = -50.0 is outside"),
    "infinite-bound": (
        replaced("bounds: [50, 400]", "bounds: [50, .inf]"),
        r"parameters.1.bounds.1: Input should be a finite number",
    ),
    "missing-required": (
        replaced("  - {name: comma_gap_um, type: float, bounds: [50, 400]}\n", "").replace(
            b"parameter_constraints", b"# parameter_constraints"
        ),
        r"the 'process' evaluator needs comma_gap_um",
    ),
    "fixed-nan": (replaced("value: 0.3", "value: .nan"), r"parameters.3.*(finite|string)"),
    "fixed-text": (replaced("value: 0.3", "value: fast"), r"coating_speed_m_min = 'fast' is outside"),
    "unknown-option": (
        replaced("timeout_s: 30", "timeout_s: 30, options: {mesh: 3}"),
        r"evaluator.options.mesh: unknown option",
    ),
    "not-an-outcome": (replaced("porosity >= 0.2", "porosty >= 0.2"), r"'porosty', which is not an outcome"),
    "custom-resource-cpu": (
        replaced("timeout_s: 30", "timeout_s: 30, resources: {CPU: 1}"),
        r"'CPU' is not a custom resource",
    ),
    "python-tag": (
        replaced("name: demo", "name: !!python/object/apply:os.system ['true']"),
        r"invalid YAML: could not determine a constructor",
    ),
    "brackets-kept": (
        replaced("bounds: [0.55, 0.75]", "bounds: [0.75, 0.55]"),
        r"must be \[low, high\] with low < high, got \[0.75, 0.55\]",
    ),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_campaign_is_one_error_line_exit_2(tmp_path, case):
    content, expected = CORPUS[case]
    path = tmp_path / "campaign.yaml"
    path.write_bytes(content)
    outcome = batman(["validate", str(path)], seconds=20)
    assert not outcome.hung, case
    assert not outcome.traceback, outcome.traceback
    assert outcome.exit_code == 2, outcome.output
    assert len(outcome.error_lines) == 1 and len(outcome.output.splitlines()) == 1, outcome.output
    line = outcome.error_lines[0]
    assert str(path) in line and len(line) < 1200, line[:300]
    assert re.search(expected, line), line[:300]


def test_merge_keys_load_and_the_mapping_overrides_what_it_merges(tmp_path):
    text = (
        BASE.replace(
            "  - {name: comma_gap_um, type: float, bounds: [50, 400]}\n",
            "  - &gap {name: comma_gap_um, type: float, bounds: [50, 400]}\n",
        )
        .replace(
            "  - {name: coating_speed_m_min, type: fixed, value: 0.3}\n",
            "  - {<<: *gap, name: coating_speed_m_min, bounds: [0.1, 3.0]}\n",
        )
        .replace(
            "budget: {max_trials: 20, batch_size: 2}",
            "budget: {max_trials: 20, batch_size: 2, stop_when_targets_met: true}",
        )
    )
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    campaign = load_campaign(path)
    merged = campaign.parameters[3]
    assert (merged.name, merged.type, merged.bounds) == ("coating_speed_m_min", "float", (0.1, 3.0))
    assert campaign.budget.stop_when_targets_met is True


def test_no_yaml_tag_runs_code(tmp_path):
    marker = tmp_path / "ran"
    for tag in (
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
    ):
        path = tmp_path / "campaign.yaml"
        path.write_text(BASE.replace("name: demo", f"name: {tag} ['touch {marker}']"))
        outcome = batman(["validate", str(path)])
        assert outcome.exit_code == 2 and not outcome.traceback
        assert not marker.exists()
    assert yaml.safe_load("a: yes")["a"] is True  # the yes-is-true rule stays PyYAML's: only ours reads 1.2
