"""SSAPy's UCT linker and orbit fit on the linking bench's tracklets: the side by side.

LLNL's SSAPy (PyPI ``llnl-ssapy``, installed by ``make peers``) links tracklets with a
multiple-hypothesis tracker (``ssapy.correlate_tracks.MHT``): each tracklet is summarised to
its mean position and rate (``summarize_tracklets``), every live track of every hypothesis is
gated against it and refitted by Levenberg-Marquardt over position and velocity, and unlikely
hypotheses are pruned. Its fit propagates with the Keplerian propagator (SSAPy's default and
the one its MHT is built on); SSAPy's own priors (an eccentricity prior of 0.3) are kept.

This module converts the bench's tracklets into SSAPy's table, runs the MHT in tracklet time
order (as the bench feeds orbitlink's linker), and returns the best hypothesis's groups of
tracklets and, for the orbit-error rows, SSAPy's fit of the first one, two and three tracklets
of an object. It imports SSAPy only when called, so the bench runs without it.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass

import numpy as np

from orbitlink.tracking.constants import SPEED_OF_LIGHT_KM_S
from orbitlink.tracking.linking.passes import SimulatedTracklet
from orbitlink.tracking.orbit.angles import AngleObservations
from orbitlink.tracking.sky import radec_from_unit

M_PER_KM = 1000.0


def available() -> bool:
    try:
        import ssapy  # noqa: F401
    except ImportError:
        return False
    _offline_astropy()
    return True


def _offline_astropy() -> None:
    """Nothing downloads at run time: astropy keeps to the tables it ships."""
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None


def version() -> str:
    from importlib.metadata import version as installed

    return installed("llnl-ssapy")


@dataclass
class PeerRun:
    """The MHT's best hypothesis: the bench's track ids of each object, and the cost."""

    groups: list[list[str]]
    seconds: float
    hypotheses: int


def geometric_radec_deg(obs: AngleObservations) -> tuple[np.ndarray, np.ndarray]:
    """The lines of sight in SSAPy's model, which has no light time: the tracklets' astrometric
    RA/Dec less the Earth's barycentric motion over the light time, a shift of ``v/c`` (about
    20") whatever the range. (The object's own motion over the light time stays: SSAPy does
    not model it, and it is a few arcseconds at GEO.)"""
    shifted = obs.los_unit + obs.earth_velocity_km_s / SPEED_OF_LIGHT_KM_S
    return radec_from_unit(shifted / np.linalg.norm(shifted, axis=-1, keepdims=True))


def detection_table(tracklets: list[SimulatedTracklet]):
    """One row per detection in SSAPy's units: RA/Dec (:func:`geometric_radec_deg`) and sigma
    in degrees, GCRF station state in metres, GPS time, and ``satID``, the tracklet's index in
    ``tracklets``."""
    from astropy import units as u
    from astropy.table import QTable
    from astropy.time import Time

    columns: dict[str, list] = {k: [] for k in ("ra", "dec", "sigma", "t", "r", "v", "satID")}
    for index, simulated in enumerate(tracklets):
        obs = simulated.tracklet.observations()
        ra_deg, dec_deg = geometric_radec_deg(obs)
        columns["ra"].append(ra_deg)
        columns["dec"].append(dec_deg)
        columns["sigma"].append(obs.sigma_arcsec / 3600.0)
        columns["t"].append(obs.time_unix_s)
        columns["r"].append(obs.observer_gcrs_km * M_PER_KM)
        columns["v"].append(obs.observer_velocity_km_s * M_PER_KM)
        columns["satID"].append(np.full(len(obs), index))
    stacked = {k: np.concatenate(v) for k, v in columns.items()}
    table = QTable()
    table["ra"] = stacked["ra"] * u.deg
    table["dec"] = stacked["dec"] * u.deg
    table["sigma"] = stacked["sigma"] * u.deg
    table["time"] = Time(stacked["t"], format="unix")
    table["rStation_GCRF"] = stacked["r"] * u.m
    table["vStation_GCRF"] = stacked["v"] * u.m / u.s
    table["satID"] = stacked["satID"]
    return table


def tracklet_table(tracklets: list[SimulatedTracklet]):
    """SSAPy's summary of each tracklet (``summarize_tracklets``): its mean position and rate
    at the mean time, seen from the sensor's mean position, one row per tracklet."""
    from ssapy.correlate_tracks import summarize_tracklets

    return summarize_tracklets(detection_table(tracklets))


def link(tracklets: list[SimulatedTracklet], nsat: int) -> PeerRun:
    """SSAPy's MHT over all tracklets; ``nsat`` is its prior on the number of objects."""
    from ssapy.correlate_tracks import MHT

    started = time.perf_counter()
    data = tracklet_table(tracklets)
    mht = MHT(data, nsat=nsat)
    with contextlib.redirect_stdout(io.StringIO()):  # SSAPy prints its warnings
        mht.run()
    best = max(mht.hypotheses, key=lambda h: h.lnprob)
    groups = [[tracklets[int(i)].tracklet.track_id for i in track.satIDs] for track in best.tracks]
    return PeerRun(groups, time.perf_counter() - started, len(mht.hypotheses))


def fitted_states(tracklets: list[SimulatedTracklet], counts=(1, 2, 3)):
    """SSAPy's fit of the first ``k`` tracklets, for each ``k`` in ``counts`` up to their
    number: ``{k: (epoch unix s, r km, v km/s, seconds)}``, the state at the fit's epoch."""
    from ssapy.correlate_tracks import Track

    data = tracklet_table(tracklets)
    order = [int(i) for i in np.argsort([s.tracklet.times[-1].timestamp() for s in tracklets])]
    states = {}
    for k in counts:
        if k > len(tracklets):
            break
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            track = Track(order[:k], data)
        param = np.asarray(track.param, dtype=float)
        epoch_unix_s = float(_unix_from_gps(param[6]))
        states[k] = (
            epoch_unix_s,
            param[:3] / M_PER_KM,
            param[3:6] / M_PER_KM,
            time.perf_counter() - started,
        )
    return states


def propagate_km(epoch_unix_s: float, r_km, v_km_s, later_unix_s: float) -> np.ndarray:
    """SSAPy's Keplerian propagation of a fitted state (the model its fit assumed)."""
    from astropy.time import Time
    from ssapy.compute import rv
    from ssapy.orbit import Orbit

    orbit = Orbit(
        r=np.asarray(r_km) * M_PER_KM,
        v=np.asarray(v_km_s) * M_PER_KM,
        t=Time(epoch_unix_s, format="unix").gps,
    )
    r, _ = rv(orbit, Time(later_unix_s, format="unix").gps)
    return np.asarray(r, dtype=float).reshape(3) / M_PER_KM


def _unix_from_gps(gps_s: float) -> float:
    from astropy.time import Time

    return Time(gps_s, format="gps").unix
