"""The PAML seam of the steppable protocols: `jump` (k steps taken by a model), `end_stage` and
`advance(k, controls=False)` (relaxation steps driven from outside)."""

import numpy as np
import pytest

from sims.dem import ParticleState
from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.drying import Drying
from sims.protocols.packing import pack_slurry, particle_counts

MAT = get_material("NMC111")
LATERAL = 22e-6
H_WET = 40e-6


@pytest.fixture(scope="module")
def slurry():
    counts = particle_counts(MAT, 0.96, 60)
    return pack_slurry(counts, LATERAL, H_WET, seed=1)


def drying(slurry) -> Drying:
    state, box = slurry
    return Drying(state, box, MAT, H_WET, 1.0)


def max_overlap(protocol: Drying) -> float:
    c = protocol.sim.contacts()
    r = protocol.sim.state.radius
    return float(np.max(c.overlap / np.minimum(r[c.i], r[c.j]))) if len(c.i) else 0.0


def test_jump_to_the_dems_own_state_moves_clock_walls_and_stage_logic_as_the_run(slurry):
    """Jumping 2000 steps onto the plain run's own state at that step puts the clock, the surface
    and the stage where the run has them; run on from there, the wet stage ends where the plain
    run's does (within a few control blocks: a rebuilt engine re-sums forces in another order) and
    the dried films agree."""
    plain = drying(slurry)
    plain.advance(2000)
    jumped = drying(slurry)
    v0 = jumped.surface.velocity[2]
    z0 = jumped.surface.z
    jumped.jump(plain.state, 2000, [None, plain.surface.z])
    assert jumped.step == plain.step == 2000 and jumped.stage_step == plain.stage_step
    assert jumped.time == pytest.approx(plain.time, rel=1e-12)
    assert jumped.surface.z == plain.surface.z and jumped.stage == "wet"
    assert plain.surface.z == pytest.approx(z0 + v0 * 2000 * plain.sim.dt, rel=0.05)  # fast sweep
    assert len(jumped.observables["step"]) == 1  # the jump ended a block: its control ran once

    def wet_end(p: Drying) -> int:
        while p.stage == "wet":
            p.advance(250)
        return p.step

    end_plain, end_jumped = wet_end(plain), wet_end(jumped)
    assert abs(end_jumped - end_plain) <= 0.1 * end_plain
    plain.run()
    jumped.run()
    assert jumped.result().thickness_m == pytest.approx(plain.result().thickness_m, rel=0.03)


def test_jump_crosses_budget_limited_stages_and_refuses_to_run_past_the_end(slurry):
    p = drying(slurry)
    p.advance(1000)
    p.end_stage()
    assert p.stage == "consolidate" and p.stage_step == 0
    budget = p.cfg.servo_steps + p.cfg.relax_steps
    state = p.state
    p.jump(state, p.cfg.servo_steps + 100)
    assert p.stage == "relax" and p.stage_step == 100
    assert p.surface.z == pytest.approx(p.box.hi[2], abs=1e-8)  # the relax stage removed the surface
    with pytest.raises(PhysicalInputError, match="past the protocol's end"):
        p.jump(p.state, budget)
    fresh = drying(slurry)
    fresh.advance(1000)
    fresh.end_stage()
    fresh.jump(state, budget)
    assert fresh.done and fresh.step == 1000 + budget
    arrays = (
        "position",
        "velocity",
        "angular_velocity",
        "radius",
        "mass",
        "inertia",
        "type_id",
        "force",
        "torque",
    )
    fewer = ParticleState(**{name: getattr(state, name)[:10] for name in arrays})
    with pytest.raises(PhysicalInputError, match="same"):
        drying(slurry).jump(fewer, 250)


def test_relaxation_steps_after_a_jump_remove_the_overlaps_it_made(slurry):
    """The consolidated wet film squeezed by 4 % in z (overlaps a model's error could leave), jumped
    to and relaxed by the wet stage's own DEM steps with its controls off: the largest overlap
    shrinks with every batch of steps. Slowly: in the solvent the relaxation is drag-limited (an AM
    particle pressing a CBD particle into the collector backs off at F / (6 pi mu r)), which is why
    PAML separates its predicted films geometrically before these steps (sims.dem.separate)."""
    p = drying(slurry)
    snap = p.snapshot()
    while p.stage == "wet":
        snap = p.snapshot()
        p.advance(250)
    p.restore(snap)  # the last wet block: the film at nearly the capillary pressure
    before = max_overlap(p)
    squeezed = p.state
    squeezed.position[:, 2] *= 0.96
    squeezed.velocity[:] = 0.0
    squeezed.contacts = None
    p.jump(squeezed, 0)
    rows = len(p.observables["step"])
    overlaps = [max_overlap(p)]
    for n in (10, 90, 900):
        p.advance(n, controls=False)
        overlaps.append(max_overlap(p))
    assert p.stage == "wet" and len(p.observables["step"]) == rows  # no control ran
    assert overlaps[0] > 1.5 * before
    assert overlaps[3] < overlaps[2] < overlaps[1] < overlaps[0]
    assert overlaps[3] < 0.95 * overlaps[0]
