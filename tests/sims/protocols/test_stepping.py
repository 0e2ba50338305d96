"""Steppable protocols: k steps at a time, full state out and in, observables per stage, one servo."""

import numpy as np
import pytest

from sims.dem import ParticleState
from sims.errors import PhysicalInputError
from sims.materials import get_material
from sims.protocols.calendering import PlateCalendering
from sims.protocols.calendering_common import CalenderingConfig
from sims.protocols.drying import Drying
from sims.protocols.packing import pack_slurry, particle_counts
from sims.protocols.stepping import PressureServo

MAT = get_material("NMC111")
LATERAL = 22e-6
FAST = CalenderingConfig(load_steps=8000, hold_steps=400, release_steps=2000, settle_steps=4000)


@pytest.fixture(scope="module")
def dried():
    """A 96:2:2 film of 60 AM and ~640 CBD particles, dried by stepping the protocol 1000 steps at a time."""
    counts = particle_counts(MAT, 0.96, 60)
    state, box = pack_slurry(counts, LATERAL, 40e-6, seed=1)
    protocol = Drying(state, box, MAT, 40e-6, 1.0)
    seen = []
    while not protocol.done:
        seen.append(protocol.stage)
        assert protocol.advance(1000) <= 1000
    assert list(dict.fromkeys(seen)) == ["wet", "consolidate", "relax"]
    return protocol.result()


@pytest.fixture(scope="module")
def reference(dried):
    """Calendered to 0.2 in one go."""
    protocol = PlateCalendering(dried.state, dried.box, MAT, 0.2, config=FAST)
    protocol.run()
    return protocol.result()


def test_stepping_in_odd_chunks_with_observables_per_stage(dried, reference):
    """Slicing the steps (137 at a time, across block and stage ends) gives the same calendering:
    the controls still act every block; the trajectories differ only by floating-point order
    (a fresh engine call re-sums forces), which the granular bed amplifies to a few % in pressure."""
    protocol = PlateCalendering(dried.state, dried.box, MAT, 0.2, config=FAST)
    while not protocol.done:
        protocol.advance(137)
    sliced = protocol.result()
    assert sliced.min_gap_m == pytest.approx(reference.min_gap_m, rel=1e-9)
    assert sliced.thickness_m == pytest.approx(reference.thickness_m, rel=0.02)
    assert sliced.max_pressure_pa == pytest.approx(reference.max_pressure_pa, rel=0.15)
    obs = protocol.observables
    assert list(dict.fromkeys(obs["stage"])) == ["load", "hold", "release", "settle"]
    assert np.all(np.diff(obs["step"]) > 0) and np.all(np.diff(obs["time_s"]) > 0)
    assert np.all(obs["step"][obs["stage"] == "load"] % FAST.block_steps == 0)
    load = obs["stage"] == "load"
    carrying = load & (obs["pressure_pa"] >= 0.1 * obs["pressure_pa"].max())
    assert np.all(obs["inertial_number"][carrying] <= FAST.inertial_bound)
    hold = obs["wall_z_m"][obs["stage"] == "hold"]
    assert np.all(hold == hold[0]) and hold[0] == pytest.approx(protocol.gap, rel=1e-9)  # at the gap
    # the thickness is read on a relaxed film: the servo brought the plate to rest at the touch
    # pressure before the settle budget ran out, and the film recovered (it did not sink)
    settle = obs["wall_z_m"][obs["stage"] == "settle"]
    assert len(settle) < FAST.settle_steps // FAST.block_steps
    assert np.ptp(settle[-FAST.settle_blocks - 1 :]) < FAST.settle_tolerance * settle[-1]
    assert sliced.thickness_m > sliced.min_gap_m and sliced.spring_back_pct > 0.1 and sliced.creep_pct == 0.0


def test_state_out_and_in_as_a_macro_step(dried, reference):
    """Mid-load, the state goes out, is moved (a stand-in for a learned macro-step: every particle
    down by 1 % of its height) and comes back: the run goes on from it to a calendered film."""
    protocol = PlateCalendering(dried.state, dried.box, MAT, 0.2, config=FAST)
    while protocol.stage == "load" and protocol.plate.z > protocol.h0 - 0.5 * (protocol.h0 - protocol.gap):
        protocol.advance(500)
    state = protocol.state
    assert state.contacts is not None and state.n == dried.state.n
    state.position[:, 2] *= 0.99
    protocol.set_state(state)
    assert protocol.state.position[:, 2] == pytest.approx(state.position[:, 2])
    protocol.run()
    moved, ref = protocol.result(), reference
    assert moved.min_gap_m == pytest.approx(ref.min_gap_m, rel=1e-6)
    assert moved.thickness_m == pytest.approx(ref.thickness_m, rel=0.02)
    first_ten = {k: v[:10] for k, v in dried.state.__dict__.items() if k != "contacts"}
    with pytest.raises(PhysicalInputError, match="same"):
        protocol.set_state(ParticleState(**first_ten))


def test_servo_settles_a_stiff_spring_where_a_fixed_speed_oscillates():
    """A tool on a linear film, P = k (z0 - z): the adaptive servo converges on the target; the same
    servo without adaptation overshoots by a full step every block forever."""
    k, z0, target, dt = 1e12, 10e-6, 1e4, 1e-7  # Pa/m: 1 MPa per um

    def settle(servo):
        z = z0 - 2e-6
        for _ in range(200):
            z += servo(k * (z0 - z), target) * dt
        return k * (z0 - z)

    assert settle(PressureServo(1.0)) == pytest.approx(target, rel=1e-3)
    assert settle(PressureServo(1.0, adaptive=False)) != pytest.approx(target, rel=0.5)
    with pytest.raises(PhysicalInputError, match="speed"):
        PressureServo(0.0)
