"""Numba DEM engine for electrode particles: spheres, periodic in x and y, walls in z.

Unit system: SI throughout (m, kg, s, N, J, Pa, rad/s); micrometre particles are 1e-6 m.

Modules:
- state.py: `ParticleState` (structure of arrays: positions, velocities, angular velocities, radii,
  masses, moments of inertia, type ids, forces, torques, and the `ContactHistory` of its last run)
  and `Box`.
- params.py: `ContactParams`, per-type-pair tables mixed from materials as LIGGGHTS does
  (`from_materials`, `from_properties`), and the Hertz restitution-damping relation.
- contact.py: contact laws as small numba functions (Hertz / Thornton elastic-plastic normal, damping,
  sjkr2 cohesion, tangential history with Coulomb limit, rolling resistance).
- neighbors.py: cell binning (counting sort) and a balanced half Verlet list with a skin, rebuilt
  when a particle moved more than skin/2; contact histories follow their pair.
- walls.py: `PlaneWall` (current collector, moving plate) and `RollWall` (roll section).
- integrate.py: velocity-Verlet kernels for translation and rotation, many steps per numba call;
  serial, or parallel with per-thread force buffers.
- engine.py: `Simulation`, the object that drives the kernels, `FailureLimits` and `Contacts`.

Compiled kernels are cached (numba cache=True); the first import on a fresh checkout compiles them
(about a minute on a busy machine).
"""

from sims.dem.engine import Contacts, FailureLimits, Simulation
from sims.dem.params import ContactParams
from sims.dem.state import Box, ContactHistory, ParticleState
from sims.dem.walls import PlaneWall, RollWall

__all__ = [
    "Box",
    "ContactParams",
    "ContactHistory",
    "Contacts",
    "FailureLimits",
    "ParticleState",
    "PlaneWall",
    "RollWall",
    "Simulation",
]
