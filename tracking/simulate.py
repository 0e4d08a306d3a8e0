"""Simulated observing scenarios built from the real catalogue, with their truth.

:func:`simulate_scenario` turns a TLE catalogue into what a sensor network would have reported
over a few minutes, plus everything needed to score a tracking run on it:

* sensors: two ground telescopes at observatory sites where it is night at the scenario time,
  one surveying the GEO belt and one staring for LEO objects, and a camera on a real LEO
  satellite of the catalogue (NEOSSAT by default) staring at the GEO belt;
* pointings chosen where the objects are: each is searched for with the catalogue's own
  predictions (densest patch of the GEO belt, az/el where the most sunlit LEO objects pass);
* detections of the objects in view (in the field, above the horizon or clear of the Earth,
  sunlit), with a magnitude from a simple diffuse-sphere model, a magnitude-dependent
  probability of detection, Gaussian astrometric noise, and Poisson false alarms;
* a catalogue that is realistically wrong: the truth propagates each object's element set with
  its mean anomaly and inclination shifted by errors drawn from the element-set error model
  fitted on real snapshots (``staleness="model"``, the default: each object's class and age at
  the scenario time) or by fixed sigmas (``"perturbed"``), and a fraction of the objects seen
  is withheld from the catalogue handed to the engine so that they should come out as
  uncorrelated tracks;
* or really wrong (``staleness="snapshots"``): the truth is a newer snapshot of the catalogue,
  propagated as it is, and the engine gets the older one, whose error is what a week does to
  real element sets; objects only in the newer one (launches since) are uncatalogued.

``PRESETS["hard"]`` holds the hard cases of identification (``HARD_SENSORS``): a co-located GEO
slot at night, a GEO group tracked from a satellite in low orbit, a fresh Starlink train, a
narrow field crossed in 3-5 frames, real staleness, and a fifth of the objects withheld, first
those beside a catalogued neighbour.

:func:`write_scenario` writes a scenario to the files below, the contract with the engine and
:mod:`.evaluate`; :func:`simulate_scenario` does both, from a catalogue on disk:

``frames.jsonl``       Frames of all sensors, in time order.
``sensors.json``       The sensors, a JSON array.
``truth.json``         ``{det_id: NORAD id or null (false alarm)}``.
``catalog/catalog.tle`` The input catalogue less the withheld objects.
``scenario.json``      Settings, seed, withheld (and uncatalogued) ids, pointings, and per frame
                       the noise-free positions of the detectable objects in view (for GOSPA).

Everything is drawn from ``numpy.random.default_rng((seed, stream))``: the same seed and
settings give byte-identical files.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator
from sgp4.api import SatrecArray
from skyfield.api import wgs84

from .catalogue import Catalogue, tle_checksum
from .constants import ARCSEC_PER_DEG, EARTH_MU_KM3_S2, SECONDS_PER_DAY
from .element_error import ElementSigmas, orbit_classes, read_element_error_model
from .ephemeris import sun_and_earth_velocity
from .formats import write_frames_jsonl, write_sensors
from .models import Detection, FieldOfView, Frame, Sensor, format_time
from .predict import SkyPrediction, in_field_of_view, predict_sky, sun_altitude_deg
from .settings import Settings
from .sky import (
    angular_separation_deg,
    radec_from_gnomonic,
    radec_from_unit,
    unit_from_radec,
)
from .times import datetime_from_unix, jd_from_unix, skyfield_time, unix_from_datetime

__all__ = [
    "DEFAULT_SENSORS",
    "HARD_SENSORS",
    "PRESETS",
    "Scenario",
    "ScenarioSettings",
    "ScenarioSummary",
    "SensorPlan",
    "blend_unresolved",
    "find_trains",
    "launch_designators",
    "perturbed_line2",
    "simulate",
    "simulate_scenario",
    "write_scenario",
]

Task = Literal["geo_survey", "leo_stare", "geo_cluster", "leo_train"]
Staleness = Literal["model", "perturbed", "snapshots"]

#: Objects whose range from the sensor lies in this window count as GEO-belt objects when a
#: GEO pointing is searched for (ground: 35,786 km overhead to ~41,700 km at the horizon).
GEO_RANGE_KM = (33_000.0, 52_000.0)
#: Orbits less inclined than this get no inclination error in the truth (see
#: ``_truth_catalogue``).
NEAR_EQUATORIAL_DEG = 0.1
#: Largest along-track sigma (s) the candidate search allows for under ``model`` staleness.
MAX_TIMING_SLACK_S = 60.0
#: Objects closer than this count as low-orbit objects when a LEO stare is searched for.
LEO_RANGE_KM = 5_000.0
#: A darker sky than this (Sun altitude, degrees) is required at every ground frame.
NIGHT_SUN_ALTITUDE_DEG = -12.0
#: Members of a satellite train are this close to the plane of the train (angle between orbit
#: normals): members of one launch still in their deployment plane.
TRAIN_PLANE_DEG = 1.0
#: Independent random streams, so that changing one part of the scenario (say the number of
#: false alarms) does not reshuffle every other draw.
_STREAM_PERTURB, _STREAM_BRIGHTNESS, _STREAM_DETECT, _STREAM_WITHHOLD = 1, 2, 3, 4


class SensorPlan(Settings):
    """One sensor of the scenario and what it does.

    A ground sensor gives ``lat_deg``/``lon_deg``/``alt_m``; a space-based one gives
    ``host_norad_id``, the catalogue object carrying the camera (its TLE becomes the sensor's).
    ``task`` picks the pointing: ``"geo_survey"`` stares at the densest visible patch of the
    GEO belt (ground: a fixed hour angle and declination, so GEO objects stay put while the
    field moves in RA with sidereal time; space: a fixed RA/Dec), ``"leo_stare"`` a fixed
    azimuth/elevation where the most sunlit LEO objects pass during the scenario,
    ``"geo_cluster"`` (ground or space) centres the field on the co-located GEO slot with the
    most objects within ``cluster_radius_deg`` of one of them (at least ``min_members``), and
    ``"leo_train"`` (ground) a fixed azimuth/elevation that the most members of one satellite
    train cross (members of one launch, in one plane, following each other by at most
    ``train_gap_s``).
    """

    sensor_id: str = Field(min_length=1, description="The sensor's id in every frame.")
    task: Task = Field(
        description="``geo_survey`` (ground or space) or ``leo_stare`` (ground only): how the "
        "pointing is chosen."
    )
    name: str = Field(
        "", description="Human-readable name; a space-based sensor defaults to its host's."
    )
    lat_deg: float | None = Field(
        None, ge=-90.0, le=90.0, description="Geodetic latitude of a ground site (WGS84)."
    )
    lon_deg: float | None = Field(
        None, ge=-180.0, le=360.0, description="Longitude of a ground site, east positive."
    )
    alt_m: float = Field(
        0.0, ge=-500.0, le=100_000.0, description="Height of a ground site above the ellipsoid."
    )
    host_norad_id: int | None = Field(
        None,
        gt=0,
        description="NORAD id of the catalogue satellite carrying a space-based camera.",
    )
    fov_radius_deg: float = Field(1.5, gt=0.0, le=180.0, description="Field-of-view radius.")
    sigma_arcsec: float = Field(
        3.0,
        gt=0.0,
        description="Astrometric sigma of a bright detection, on each tangent-plane axis.",
    )
    cadence_s: float = Field(10.0, gt=0.0, description="Time from one frame to the next.")
    exposure_s: float = Field(1.0, ge=0.0, description="Exposure time of a frame.")
    limiting_mag: float = Field(
        15.0, description="Magnitude at which the probability of detection is halved."
    )
    min_elevation_deg: float = Field(
        30.0,
        ge=-90.0,
        le=90.0,
        description="Ground pointings are searched above this elevation.",
    )
    resolution_arcsec: float = Field(
        10.0, gt=0.0, description="Sources closer than this blend into one detection."
    )
    cluster_radius_deg: float = Field(
        0.1,
        gt=0.0,
        le=2.0,
        description="geo_cluster: objects this close to one of them form its cluster "
        "(co-located GEO slots hold several satellites within 0.1 deg).",
    )
    min_members: int = Field(
        3, ge=2, description="geo_cluster, leo_train: the fewest objects a cluster or train has."
    )
    train_gap_s: float = Field(
        120.0,
        gt=0.0,
        description="leo_train: consecutive members of a train pass the same point at most "
        "this far apart (fresh Starlink trains: about a minute).",
    )

    @model_validator(mode="after")
    def _one_position_and_a_task_it_can_do(self) -> SensorPlan:
        ground = self.lat_deg is not None and self.lon_deg is not None
        if ground == (self.host_norad_id is not None):
            raise ValueError(
                f"sensor plan {self.sensor_id!r}: give lat_deg/lon_deg for a "
                f"ground site or host_norad_id for a space-based sensor"
            )
        if self.task in ("leo_stare", "leo_train") and not ground:
            raise ValueError(f"sensor plan {self.sensor_id!r}: {self.task} is a ground task")
        return self


DEFAULT_SENSORS: tuple[SensorPlan, ...] = (
    # Cerro Tololo, deep night at the default start: a GEO-belt survey telescope.
    SensorPlan(
        sensor_id="ctio-geo",
        task="geo_survey",
        name="GEO survey telescope, Cerro Tololo",
        lat_deg=-30.1690,
        lon_deg=-70.8063,
        alt_m=2207.0,
        fov_radius_deg=2.0,
        sigma_arcsec=2.0,
        cadence_s=5.0,
        exposure_s=2.0,
        limiting_mag=15.5,
    ),
    # Observatorio del Teide (home of ESA's debris telescope), before morning twilight.
    SensorPlan(
        sensor_id="teide-geo",
        task="geo_survey",
        name="GEO survey telescope, Teide",
        lat_deg=28.3008,
        lon_deg=-16.5117,
        alt_m=2390.0,
        fov_radius_deg=2.0,
        sigma_arcsec=3.0,
        cadence_s=5.0,
        exposure_s=2.0,
        limiting_mag=15.0,
    ),
    # Kitt Peak, an hour after dusk: low orbits are still sunlit.
    SensorPlan(
        sensor_id="kpno-leo",
        task="leo_stare",
        name="LEO staring camera, Kitt Peak",
        lat_deg=31.9583,
        lon_deg=-111.5967,
        alt_m=2096.0,
        fov_radius_deg=3.0,
        sigma_arcsec=8.0,
        cadence_s=1.0,
        exposure_s=0.5,
        limiting_mag=10.5,
        min_elevation_deg=20.0,
        resolution_arcsec=30.0,
    ),
    # NEOSSAT (a real SDA microsatellite, sun-synchronous LEO) staring at the GEO belt.
    SensorPlan(
        sensor_id="neossat",
        task="geo_survey",
        name="Space-based camera on NEOSSAT",
        host_norad_id=39089,
        fov_radius_deg=2.0,
        sigma_arcsec=4.0,
        cadence_s=5.0,
        exposure_s=1.0,
        limiting_mag=14.0,
    ),
)


class ScenarioSettings(Settings):
    """Everything that shapes a scenario; the defaults give a few thousand detections.

    Brightness: each object has a standard magnitude (at 1,000 km range and 90 degrees phase)
    drawn from a normal distribution by name (Starlink, OneWeb, anything else); its magnitude
    in a frame follows a diffuse sphere's phase law and the inverse square of range.
    Detection: probability ``detection_probability / (1 + exp((mag - limiting_mag) /
    pd_softness_mag))``; per-detection sigma is the sensor's, growing as the object fades
    within 2.5 mag of the limit (up to ``faint_sigma_factor`` times).
    ``PRESETS`` holds the named settings the CLI can pick (``--preset``).
    """

    start_time: str = Field(
        "2026-05-31T04:20:00Z",
        description="ISO-8601 UTC time of the first frame: deep night at Cerro Tololo, "
        "before morning twilight at Teide, an hour after dusk at Kitt Peak.",
    )
    duration_s: float = Field(300.0, gt=0.0, description="Length of the scenario.")
    sensors: tuple[SensorPlan, ...] = Field(
        DEFAULT_SENSORS, min_length=1, description="The sensor network (``DEFAULT_SENSORS``)."
    )
    detection_probability: float = Field(
        0.9, gt=0.0, le=1.0, description="Probability of detecting an object well above the limit."
    )
    pd_softness_mag: float = Field(
        0.3, gt=0.0, description="Width of the fall of the detection probability at the limit."
    )
    false_alarms_per_frame: float = Field(
        1.0, ge=0.0, description="Mean of the Poisson number of false alarms in a frame."
    )
    magnitude_noise: float = Field(0.1, ge=0.0, description="Sigma of reported magnitudes.")
    faint_sigma_factor: float = Field(
        3.0,
        ge=1.0,
        description="Astrometric sigma of the faintest detections, in sensor sigmas.",
    )
    standard_mag_starlink: tuple[float, float] = Field(
        (5.5, 0.5), description="Mean and sigma of the standard magnitude of Starlink objects."
    )
    standard_mag_oneweb: tuple[float, float] = Field(
        (7.0, 0.5), description="Mean and sigma of the standard magnitude of OneWeb objects."
    )
    standard_mag_other: tuple[float, float] = Field(
        (4.5, 1.0), description="Mean and sigma of the standard magnitude of the other objects."
    )
    staleness: Staleness = Field(
        "model",
        description="How the catalogue is wrong. ``model``: the truth is the input catalogue "
        "with each object's mean anomaly and inclination shifted by errors drawn from the "
        "element-set error model fitted on real snapshots (docs/error-model.md), for its "
        "orbit class and age at the start time (the Gaussian core: no far-off sets). "
        "``perturbed``: the same with the fixed sigmas below. ``snapshots``: the truth is a "
        "newer catalogue passed beside it (``truth_catalogue``), propagated as it is, so the "
        "error is the real element-set error of the older one; objects only in the newer are "
        "uncatalogued, as if withheld.",
    )
    along_track_sigma_s: float = Field(
        1.5,
        ge=0.0,
        description="``perturbed`` staleness: truth orbit error along-track (1 sigma), in "
        "seconds of mean motion, for orbits of more than 2 rev/day.",
    )
    along_track_sigma_geo_arcsec: float = Field(
        30.0,
        ge=0.0,
        description="``perturbed`` staleness: truth orbit error in mean anomaly (1 sigma) for "
        "orbits of 2 rev/day or fewer.",
    )
    cross_track_sigma_arcsec: float = Field(
        10.0,
        ge=0.0,
        description="``perturbed`` staleness: truth orbit error (1 sigma) on inclination and "
        "on the node, each.",
    )
    withheld_fraction: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Share of the well-seen objects withheld from the engine's catalogue "
        "(they should come out as UCTs).",
    )
    min_detections_to_withhold: int = Field(
        5, ge=0, description="Only objects one sensor detected this often may be withheld."
    )
    withhold_near_deg: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="Objects with a catalogued neighbour this close in some frame (cluster and "
        "train members) are withheld first, so that a UCT sits beside a catalogued object; "
        "0: no preference.",
    )
    search_step_s: float = Field(
        10.0, gt=0.0, description="Time step of the whole-catalogue pointing search."
    )
    sun_exclusion_deg: float = Field(
        60.0, ge=0.0, le=180.0, description="Space-based pointings keep this far from the Sun."
    )
    sensor_time_offset_s: float = Field(
        0.25,
        description="Sensor k starts k times this after start_time, so that frames of "
        "different sensors are not simultaneous.",
    )

    @field_validator("start_time")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        unix_from_datetime(value)  # raises naming the value when it is not ISO-8601
        return value

    @model_validator(mode="after")
    def _distinct_sensor_ids(self) -> ScenarioSettings:
        ids = [plan.sensor_id for plan in self.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"sensors: sensor_id repeated in {ids}")
        return self


#: The hard cases of identification, one per sensor, at 2026-06-02 09:50 UTC: a week after the
#: epochs of the 2026-05-26 snapshot (the engine's catalogue), three days after those of the
#: 2026-05-30 one (the truth). Sites are real: Kitt Peak, and two observers of the COSPAR site
#: list near Seattle and on the Sunshine Coast of British Columbia (sites 8831 and 8049),
#: where dawn twilight leaves low orbits sunlit.
HARD_SENSORS: tuple[SensorPlan, ...] = (
    # A co-located GEO slot at night: SXM-7, -8 and -9, within 0.04 deg of each other.
    SensorPlan(
        sensor_id="kpno-slot",
        task="geo_cluster",
        name="GEO slot telescope, Kitt Peak",
        lat_deg=31.9583,
        lon_deg=-111.5967,
        alt_m=2096.0,
        fov_radius_deg=0.5,
        sigma_arcsec=1.5,
        cadence_s=10.0,
        exposure_s=2.0,
        limiting_mag=16.0,
    ),
    # Sapphire (a real SDA satellite in sun-synchronous LEO) imaging a GEO group every 10 s.
    SensorPlan(
        sensor_id="sapphire-slot",
        task="geo_cluster",
        name="Space-based camera on SAPPHIRE",
        host_norad_id=39088,
        fov_radius_deg=1.5,
        sigma_arcsec=4.0,
        cadence_s=10.0,
        exposure_s=2.0,
        limiting_mag=14.5,
        cluster_radius_deg=0.07,
        min_members=2,
    ),
    # The Starlink launch of 2026-111, four days after deployment: one plane, a minute apart.
    SensorPlan(
        sensor_id="train-cam",
        task="leo_train",
        name="Wide-field camera, COSPAR site 8831",
        lat_deg=47.7717,
        lon_deg=-121.904,
        alt_m=220.0,
        fov_radius_deg=4.0,
        sigma_arcsec=15.0,
        cadence_s=1.0,
        exposure_s=0.5,
        limiting_mag=8.5,
        min_elevation_deg=20.0,
        resolution_arcsec=30.0,
        min_members=5,
    ),
    # A narrow field high in the sky: low orbits cross it in 3-5 frames.
    SensorPlan(
        sensor_id="short-pass",
        task="leo_stare",
        name="Narrow-field camera, COSPAR site 8049",
        lat_deg=49.4348,
        lon_deg=-123.6685,
        alt_m=40.0,
        fov_radius_deg=1.5,
        sigma_arcsec=5.0,
        cadence_s=1.0,
        exposure_s=0.5,
        limiting_mag=10.5,
        min_elevation_deg=45.0,
        resolution_arcsec=20.0,
    ),
)


@dataclass
class ScenarioSummary:
    """What :func:`write_scenario` wrote: counts per sensor and the withheld ids."""

    out_dir: str
    seed: int
    start_time: str
    end_time: str
    n_frames: int
    n_detections: int
    n_false_alarms: int
    n_objects_detected: int
    withheld_norad_ids: list[int]
    catalogue_size: int
    frames_by_sensor: dict[str, int] = field(default_factory=dict)
    detections_by_sensor: dict[str, int] = field(default_factory=dict)
    objects_by_sensor: dict[str, int] = field(default_factory=dict)
    uncatalogued_norad_ids: list[int] = field(default_factory=list)  # among the withheld

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"scenario {self.out_dir} (seed {self.seed}): {self.start_time} to {self.end_time}",
            f"  {self.n_frames} frames, {self.n_detections} detections "
            f"({self.n_false_alarms} false alarms) of {self.n_objects_detected} objects",
            f"  withheld from the catalogue ({self.catalogue_size} objects left): "
            f"{', '.join(map(str, self.withheld_norad_ids)) or 'none'}",
        ]
        if self.uncatalogued_norad_ids:
            lines.append(
                f"  of which {len(self.uncatalogued_norad_ids)} not in the input catalogue "
                f"(only in the truth)"
            )
        lines += [
            f"  {sid}: {self.frames_by_sensor[sid]} frames, "
            f"{self.detections_by_sensor[sid]} detections, "
            f"{self.objects_by_sensor[sid]} objects"
            for sid in self.frames_by_sensor
        ]
        return "\n".join(lines)


#: Named settings (``orbitlink simulate --preset``), both with real staleness
#: (``staleness="snapshots"``: give the 2026-05-26 snapshot as the catalogue and the
#: 2026-05-30 one as the truth), the cases identification is judged on (``HARD_SENSORS``), a
#: fifth of the objects withheld, first those beside a catalogued neighbour, and objects seen
#: three times eligible (short passes give no more):
#:
#: * ``hard``: the night after the truth's epochs (2026-05-31), so the truth is what its
#:   element sets say of the sky and the engine's sets are as far off as five days make them:
#:   the real staleness of the two snapshots.
#: * ``hard-week``: two nights later (2026-06-02), the engine's sets a week old by epoch, as
#:   in the measurements the identification issue quotes. The truth is then itself a
#:   three-day propagation of the newer sets, so the engine's sets differ from it by less than
#:   a week of real error while the engine, judging them by their age, expects a week's:
#:   a harsher test of ambiguity than of error. Its sky holds the fresh, uncatalogued
#:   Starlink train of launch 2026-111 and the APSTAR-6C/6E pair seen from orbit.
_HARD = ScenarioSettings(
    start_time="2026-05-31T09:50:00Z",
    duration_s=300.0,
    sensors=HARD_SENSORS,
    staleness="snapshots",
    withheld_fraction=0.2,
    min_detections_to_withhold=3,
    withhold_near_deg=0.2,
)
PRESETS: dict[str, ScenarioSettings] = {
    "default": ScenarioSettings(),
    "hard": _HARD,
    "hard-week": _HARD.replace(start_time="2026-06-02T09:50:00Z"),
}


# --------------------------------------------------------------------------------------------
# Truth elements


def _set_field(line: str, start: int, end: int, value: float) -> str:
    """Write an ``8.4f`` angle into TLE columns ``[start, end)`` (0-based)."""
    text = f"{value:{end - start}.4f}"
    if len(text) != end - start:
        raise ValueError(f"value {value} does not fit TLE columns {start + 1}-{end}")
    return line[:start] + text + line[end:]


def perturbed_line2(
    line2: str, d_inclination_deg: float, d_node_deg: float, d_mean_anomaly_deg: float
) -> str:
    """TLE line 2 with inclination, right ascension of the node and mean anomaly shifted.

    Angles wrap (node and anomaly modulo 360; an inclination pushed below 0 is reflected) and
    the checksum is recomputed, so the line stays a valid TLE.
    """
    inclination = abs(float(line2[8:16]) + d_inclination_deg)
    if inclination > 180.0:
        inclination = 360.0 - inclination
    node = (float(line2[17:25]) + d_node_deg) % 360.0
    anomaly = (float(line2[43:51]) + d_mean_anomaly_deg) % 360.0
    # 359.99996 rounds to "360.0000", which is out of range for the field: wrap after rounding.
    node, anomaly = round(node, 4) % 360.0, round(anomaly, 4) % 360.0
    line = _set_field(line2, 8, 16, inclination)
    line = _set_field(line, 17, 25, node)
    line = _set_field(line, 43, 51, anomaly)
    return line[:68] + str(tle_checksum(line))


def _mean_motion_rev_day(catalogue: Catalogue) -> NDArray[np.float64]:
    # Satrec.no_kozai is in radians per minute.
    return np.array([s.no_kozai for s in catalogue.satrecs]) * 1440.0 / (2.0 * math.pi)


def _truth_catalogue(
    catalogue: Catalogue, index: NDArray[np.intp], settings: ScenarioSettings, seed: int
) -> Catalogue:
    """The selected objects with their elements perturbed, as a catalogue of their own.

    Draws are made for the whole input catalogue and then indexed, so an object's error does
    not depend on which other objects happen to be in view.
    """
    rng = np.random.default_rng((seed, _STREAM_PERTURB))
    n = len(catalogue)
    along = rng.standard_normal(n)
    across = rng.standard_normal((2, n))
    inclination_deg = np.degrees([s.inclo for s in catalogue.satrecs])
    rev_day = _mean_motion_rev_day(catalogue)
    deg_per_s = rev_day * 360.0 / SECONDS_PER_DAY
    if settings.staleness == "model":
        sigmas = _model_sigmas(catalogue, settings)
        d_anomaly = along * sigmas.timing_s * deg_per_s
        # An inclination error di moves an orbit across its plane by r di sin(u): RMS
        # r di / sqrt(2) over a revolution, so di ~ N(0, sqrt(2) sigma / r) gives the fitted
        # cross-track sigma; the node is left alone (its shift is mostly along-track).
        mean_motion_rad_s = rev_day * 2.0 * math.pi / SECONDS_PER_DAY
        semi_major_km = (EARTH_MU_KM3_S2 / mean_motion_rad_s**2) ** (1.0 / 3.0)
        d_incl = across[0] * np.degrees(math.sqrt(2.0) * sigmas.cross_track_km / semi_major_km)
        d_node = np.zeros(n)
    else:
        d_incl, d_node = across * settings.cross_track_sigma_arcsec / ARCSEC_PER_DEG
        d_anomaly = np.where(
            rev_day > 2.0,
            along * settings.along_track_sigma_s * deg_per_s,
            along * settings.along_track_sigma_geo_arcsec / ARCSEC_PER_DEG,
        )
    # Near-equatorial orbits keep their inclination: SGP4's small-inclination (Lyddane)
    # branch can turn a few arc-seconds of it into tens of arc-seconds on the sky, and their
    # node shift already moves them as much (along-track, as node and anomaly add up there).
    d_incl = np.where(inclination_deg < NEAR_EQUATORIAL_DEG, 0.0, d_incl)
    text = []
    for i in index.tolist():
        line1, line2 = catalogue.lines[i]
        text.append(
            f"0 {catalogue.names[i]}\n{line1}\n"
            f"{perturbed_line2(line2, d_incl[i], d_node[i], d_anomaly[i])}\n"
        )
    return Catalogue.from_tle_text("".join(text), source="truth")


def _standard_magnitudes(
    catalogue: Catalogue, settings: ScenarioSettings, seed: int
) -> NDArray[np.float64]:
    rng = np.random.default_rng((seed, _STREAM_BRIGHTNESS))
    names = np.array([name.upper() for name in catalogue.names], dtype=str)
    mean = np.full(len(names), settings.standard_mag_other[0])
    sigma = np.full(len(names), settings.standard_mag_other[1])
    for prefix, (m, s) in (
        ("STARLINK", settings.standard_mag_starlink),
        ("ONEWEB", settings.standard_mag_oneweb),
    ):
        hit = np.char.startswith(names, prefix)
        mean[hit], sigma[hit] = m, s
    return mean + sigma * rng.standard_normal(len(names))


def _diffuse_sphere_phase(phase_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    """Phase law of a Lambertian sphere, 1 at full phase, ``1/pi`` at 90 degrees."""
    return ((math.pi - phase_rad) * np.cos(phase_rad) + np.sin(phase_rad)) / math.pi


def _apparent_magnitude(
    standard_mag: NDArray[np.float64], prediction: SkyPrediction, sun_unit: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Magnitude from range and Sun-object-observer phase angle (Sun seen from the geocentre;
    the parallax of a near-Earth object against 1 au is below 0.02 degrees)."""
    los = unit_from_radec(prediction.ra_deg, prediction.dec_deg)
    cos_phase = np.clip(np.sum(-los * sun_unit, axis=-1), -1.0, 1.0)
    flux = np.maximum(_diffuse_sphere_phase(np.arccos(cos_phase)) * math.pi, 1e-6)
    return standard_mag + 5.0 * np.log10(prediction.range_km / 1000.0) - 2.5 * np.log10(flux)


# --------------------------------------------------------------------------------------------
# Sensors and pointings


def _sensor(plan: SensorPlan, catalogue: Catalogue) -> Sensor:
    if plan.host_norad_id is None:
        return Sensor(
            sensor_id=plan.sensor_id,
            name=plan.name or None,
            lat_deg=plan.lat_deg,
            lon_deg=plan.lon_deg,
            alt_m=plan.alt_m,
            fov_radius_deg=plan.fov_radius_deg,
            sigma_arcsec=plan.sigma_arcsec,
        )
    host = int(catalogue.index_of([plan.host_norad_id])[0])
    if host < 0:
        raise ValueError(
            f"sensor plan {plan.sensor_id!r}: host_norad_id "
            f"{plan.host_norad_id} is not in the catalogue"
        )
    line1, line2 = catalogue.lines[host]
    return Sensor(
        sensor_id=plan.sensor_id,
        name=plan.name or catalogue.names[host],
        tle=[line1, line2],
        fov_radius_deg=plan.fov_radius_deg,
        sigma_arcsec=plan.sigma_arcsec,
    )


def _local_rotation(plan: SensorPlan, times_unix_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(T, 3, 3)`` rotations taking GCRS vectors to the site's (north, east, up) frame."""
    site = wgs84.latlon(plan.lat_deg, plan.lon_deg, elevation_m=plan.alt_m)
    t = skyfield_time(times_unix_s)
    return np.moveaxis(site.rotation_at(t), -1, 0)


def _local_unit(alt_deg: NDArray[np.float64], az_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    alt, az = np.radians(alt_deg), np.radians(az_deg)
    return np.stack([np.cos(alt) * np.cos(az), np.cos(alt) * np.sin(az), np.sin(alt)], axis=-1)


def _best_direction(
    candidates: NDArray[np.float64], points: NDArray[np.float64], radius_deg: float
) -> int:
    """Index of the candidate unit vector ``(C, 3)`` with the most ``points (P, 3)`` within
    ``radius_deg``; ties go to the first, so the choice is deterministic."""
    cos_radius = math.cos(math.radians(radius_deg))
    counts = np.zeros(len(candidates), dtype=np.int64)
    for start in range(0, len(points), 4096):  # bounded memory for dense LEO samples
        counts += np.count_nonzero(
            candidates @ points[start : start + 4096].T >= cos_radius, axis=1
        )
    return int(np.argmax(counts))


def _visible_units(
    coarse: SkyPrediction, usable: NDArray[np.bool_], orbit: Literal["geo", "leo"]
) -> list[NDArray[np.float64]]:
    """Per time of an ``(N, T)`` prediction, GCRS unit vectors of the ``usable`` objects
    (visible and bright enough) at GEO-like or at low-orbit range."""
    with np.errstate(invalid="ignore"):
        if orbit == "geo":
            keep = (
                usable & (coarse.range_km > GEO_RANGE_KM[0]) & (coarse.range_km < GEO_RANGE_KM[1])
            )
        else:
            keep = usable & (coarse.range_km < LEO_RANGE_KM)
    return [
        unit_from_radec(coarse.ra_deg[keep[:, j], j], coarse.dec_deg[keep[:, j], j]).reshape(-1, 3)
        for j in range(keep.shape[1])
    ]


def _ground_pointing(
    plan: SensorPlan, coarse: SkyPrediction, usable: NDArray[np.bool_]
) -> tuple[float, float]:
    """A fixed (azimuth, elevation) in degrees, where the catalogue says objects will be."""
    geo = plan.task == "geo_survey"
    units = _visible_units(coarse, usable, "geo" if geo else "leo")
    rotations = _local_rotation(plan, coarse.time_unix_s)
    per_time = [u @ r.T for u, r in zip(units, rotations)]
    local = np.concatenate(per_time)
    if geo:
        # GEO objects hold still in the site's frame: candidate centres are the objects at
        # mid-scenario, scored on how many fit in the inner part of the field.
        middle = per_time[len(per_time) // 2]
        candidates = middle[middle[:, 2] >= math.sin(math.radians(plan.min_elevation_deg))]
        radius = 0.7 * plan.fov_radius_deg
    else:
        alt, az = np.meshgrid(
            np.arange(plan.min_elevation_deg, 86.0, 5.0), np.arange(0.0, 360.0, 10.0), indexing="ij"
        )
        candidates = np.concatenate(
            [_local_unit(alt.ravel(), az.ravel()), _local_unit(np.array([90.0]), np.array([0.0]))]
        )
        radius = 0.9 * plan.fov_radius_deg
    if len(candidates) == 0 or len(local) == 0:
        raise ValueError(
            f"sensor {plan.sensor_id!r}: no catalogue object for a {plan.task} "
            f"is visible and brighter than magnitude {plan.limiting_mag} above "
            f"{plan.min_elevation_deg} deg elevation during the scenario"
        )
    centre = candidates[_best_direction(candidates, local, radius)]
    if geo:  # centre the field on the cluster rather than on one of its members
        members = local[local @ centre >= math.cos(math.radians(radius))]
        centre = members.mean(axis=0)
        centre /= np.linalg.norm(centre)
    return _az_alt_deg(centre)


def _az_alt_deg(local: NDArray[np.float64]) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of a (north, east, up) unit vector."""
    alt_deg = math.degrees(math.asin(float(np.clip(local[2], -1.0, 1.0))))
    az_deg = math.degrees(math.atan2(local[1], local[0])) % 360.0
    return az_deg, alt_deg


def _space_pointing(
    plan: SensorPlan, coarse: SkyPrediction, usable: NDArray[np.bool_], settings: ScenarioSettings
) -> tuple[float, float]:
    """A fixed (RA, Dec) on the GEO belt for a camera in orbit, away from the Sun."""
    units = _visible_units(coarse, usable, "geo")
    points = np.concatenate(units)
    sun, _ = sun_and_earth_velocity(coarse.time_unix_s)
    sun_unit = sun / np.linalg.norm(sun, axis=-1, keepdims=True)
    # Candidate centres: the GEO objects at mid-scenario that clear the Sun at every time.
    middle = units[len(units) // 2]
    clear = np.all(middle @ sun_unit.T < math.cos(math.radians(settings.sun_exclusion_deg)), axis=1)
    candidates = middle[clear]
    if len(candidates) == 0:
        raise ValueError(
            f"sensor {plan.sensor_id!r}: no GEO object visible more than "
            f"{settings.sun_exclusion_deg} deg from the Sun"
        )
    centre = candidates[_best_direction(candidates, points, 0.8 * plan.fov_radius_deg)]
    ra, dec = radec_from_unit(centre)
    return float(ra), float(dec)


def _geo_at_middle(
    coarse: SkyPrediction, usable: NDArray[np.bool_]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Rows of the usable objects at GEO-like range at the middle search time, and their GCRS
    unit vectors then ``(K, 3)``."""
    j = coarse.time_unix_s.size // 2
    with np.errstate(invalid="ignore"):
        keep = (
            usable[:, j]
            & (coarse.range_km[:, j] > GEO_RANGE_KM[0])
            & (coarse.range_km[:, j] < GEO_RANGE_KM[1])
        )
    rows = np.flatnonzero(keep)
    return rows, unit_from_radec(coarse.ra_deg[rows, j], coarse.dec_deg[rows, j]).reshape(-1, 3)


def _densest_cluster(
    units: NDArray[np.float64], radius_deg: float, min_members: int
) -> NDArray[np.intp] | None:
    """Indices of the densest cluster of unit vectors ``(K, 3)``, or None if none has
    ``min_members``.

    The cluster of a vector is every vector within ``radius_deg`` of it (itself included); the
    densest is the largest, ties going to the tightest (least mean distance from the vector it
    is built around), then to the first.
    """
    if len(units) < min_members:
        return None
    cos_separation = np.clip(units @ units.T, -1.0, 1.0)
    near = cos_separation >= math.cos(math.radians(radius_deg))
    counts = np.count_nonzero(near, axis=1)
    if counts.max() < min_members:
        return None
    candidates = np.flatnonzero(counts == counts.max())
    spread = [np.arccos(cos_separation[k, near[k]]).mean() for k in candidates]
    return np.flatnonzero(near[candidates[int(np.argmin(spread))]])


def _no_cluster(plan: SensorPlan, where: str) -> ValueError:
    return ValueError(
        f"sensor {plan.sensor_id!r}: no co-located GEO slot of {plan.min_members} objects "
        f"within {plan.cluster_radius_deg} deg of one of them, brighter than magnitude "
        f"{plan.limiting_mag}, is visible {where} at mid-scenario"
    )


def _ground_cluster_pointing(
    plan: SensorPlan, coarse: SkyPrediction, usable: NDArray[np.bool_]
) -> tuple[tuple[float, float], NDArray[np.int64]]:
    """A fixed (azimuth, elevation) on the densest co-located GEO slot, and its members."""
    rows, units = _geo_at_middle(coarse, usable)
    j = coarse.time_unix_s.size // 2
    local = units @ _local_rotation(plan, coarse.time_unix_s[j : j + 1])[0].T
    high = local[:, 2] >= math.sin(math.radians(plan.min_elevation_deg))
    rows, local = rows[high], local[high]
    members = _densest_cluster(local, plan.cluster_radius_deg, plan.min_members)
    if members is None:
        raise _no_cluster(plan, f"above {plan.min_elevation_deg} deg elevation")
    # GEO objects hold still in the site's frame: centred at mid-scenario, they stay centred.
    centre = local[members].mean(axis=0)
    return _az_alt_deg(centre / np.linalg.norm(centre)), coarse.norad_ids[rows[members]]


def _space_cluster_targets(
    plan: SensorPlan, coarse: SkyPrediction, usable: NDArray[np.bool_], settings: ScenarioSettings
) -> NDArray[np.int64]:
    """The members of the densest co-located GEO slot seen from orbit away from the Sun."""
    rows, units = _geo_at_middle(coarse, usable)
    sun, _ = sun_and_earth_velocity(coarse.time_unix_s)
    sun_unit = sun / np.linalg.norm(sun, axis=-1, keepdims=True)
    clear = np.all(units @ sun_unit.T < math.cos(math.radians(settings.sun_exclusion_deg)), axis=1)
    rows, units = rows[clear], units[clear]
    members = _densest_cluster(units, plan.cluster_radius_deg, plan.min_members)
    if members is None:
        raise _no_cluster(plan, f"more than {settings.sun_exclusion_deg} deg from the Sun")
    return coarse.norad_ids[rows[members]]


def _tracking_centres(
    sky: Catalogue, sensor: Sensor, targets: NDArray[np.int64], times: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """RA/Dec of the mean direction of ``targets`` at each time: a camera in orbit tracking
    a GEO slot (from low orbit the slot crosses a degree of sky a minute)."""
    p = predict_sky(sky, sensor, times, index=sky.index_of(targets), light_time=False)
    return radec_from_unit(unit_from_radec(p.ra_deg, p.dec_deg).mean(axis=0))


def launch_designators(catalogue: Catalogue) -> list[str]:
    """Each object's launch: the year and launch number of its international designator
    (TLE line 1 columns 10-14, ``"26111"`` for 2026-111), ``""`` where the TLE has none."""
    return [line1[9:14].strip() for line1, _ in catalogue.lines]


def find_trains(
    catalogue: Catalogue, time_unix_s: float, *, min_members: int = 3, max_gap_s: float = 120.0
) -> list[NDArray[np.intp]]:
    """Satellite trains at ``time_unix_s``: catalogue indices of each, in order along the orbit.

    A train is a run of objects of one launch (:func:`launch_designators`), within
    ``TRAIN_PLANE_DEG`` of the mean orbit plane of that launch's objects, each following the
    one before along the orbit by at most ``max_gap_s`` (a fresh Starlink train: about a
    minute; a launch spread around its plane has no run). The longest run of each launch
    counts, if it has ``min_members``.
    """
    launches = np.array(launch_designators(catalogue))
    keys, inverse, counts = np.unique(launches, return_inverse=True, return_counts=True)
    groups = np.flatnonzero((counts >= min_members) & (keys != ""))
    candidates = np.flatnonzero(np.isin(inverse, groups))
    if candidates.size == 0:
        return []
    jd, fraction = jd_from_unix(np.array([time_unix_s]))
    errors, r, v = SatrecArray([catalogue.satrecs[i] for i in candidates.tolist()]).sgp4(
        jd, fraction
    )
    ok = errors[:, 0] == 0
    r, v = r[:, 0], v[:, 0]
    normal = np.cross(r, v)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    launch_of = inverse[candidates]
    trains = []
    for group in groups.tolist():
        rows = np.flatnonzero((launch_of == group) & ok)
        if rows.size < min_members:
            continue
        plane = normal[rows].sum(axis=0)
        plane /= np.linalg.norm(plane)
        rows = rows[
            np.degrees(np.arccos(np.clip(normal[rows] @ plane, -1.0, 1.0))) <= TRAIN_PLANE_DEG
        ]
        if rows.size < min_members:
            continue
        # Argument of latitude in the train's plane, and each object's lead over the next
        # one in seconds at the train's angular rate.
        x_axis = r[rows[0]] - (r[rows[0]] @ plane) * plane
        x_axis /= np.linalg.norm(x_axis)
        y_axis = np.cross(plane, x_axis)
        u_deg = np.degrees(np.arctan2(r[rows] @ y_axis, r[rows] @ x_axis)) % 360.0
        order = np.argsort(u_deg)
        rows, u_deg = rows[order], u_deg[order]
        rate_deg_s = np.degrees(
            np.median(np.linalg.norm(np.cross(r[rows], v[rows]), axis=1))
            / np.median(np.sum(r[rows] ** 2, axis=1))
        )
        gap_s = np.diff(np.append(u_deg, u_deg[0] + 360.0)) / rate_deg_s
        # Start after the largest gap, so that no run is cut at u = 0.
        start = (int(np.argmax(gap_s)) + 1) % rows.size
        rows, gap_s = np.roll(rows, -start), np.roll(gap_s, -start)
        runs = np.split(np.arange(rows.size), np.flatnonzero(gap_s[:-1] > max_gap_s) + 1)
        longest = max(runs, key=len)
        if longest.size >= min_members:
            trains.append(candidates[rows[longest]])
    return trains


def _train_pointing(
    plan: SensorPlan,
    sensor: Sensor,
    sky: Catalogue,
    standard_mag: NDArray[np.float64],
    times: NDArray[np.float64],
) -> tuple[tuple[float, float], NDArray[np.int64], str]:
    """A fixed (azimuth, elevation) that the most members of one train cross in view; the
    members that do, and the train's launch.

    Trains are found at mid-scenario (:func:`find_trains`) and their members predicted at
    every frame time (they cross a field in seconds: the search steps would miss them).
    Candidate centres are the members' own sky positions, every tenth frame.
    """
    trains = find_trains(
        sky,
        float(times[times.size // 2]),
        min_members=plan.min_members,
        max_gap_s=plan.train_gap_s,
    )
    if not trains:
        raise ValueError(
            f"sensor {plan.sensor_id!r}: the catalogue holds no train of "
            f"{plan.min_members} objects of one launch within {plan.train_gap_s} s of each other"
        )
    members = np.concatenate(trains)
    train_of = np.repeat(np.arange(len(trains)), [t.size for t in trains])
    p = predict_sky(sky, sensor, times, index=members, light_time=False)
    sun, _ = sun_and_earth_velocity(times)
    sun_unit = sun / np.linalg.norm(sun, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        seen = (
            p.visible()
            & (p.elevation_deg >= plan.min_elevation_deg)
            & (_apparent_magnitude(standard_mag[members, None], p, sun_unit) <= plan.limiting_mag)
        )
    member_of_sample, time_of_sample = np.nonzero(seen)
    if member_of_sample.size == 0:
        raise ValueError(
            f"sensor {plan.sensor_id!r}: no member of a train is visible and brighter than "
            f"magnitude {plan.limiting_mag} above {plan.min_elevation_deg} deg elevation "
            f"during the scenario"
        )
    rotations = _local_rotation(plan, times)
    gcrs = unit_from_radec(p.ra_deg[seen], p.dec_deg[seen])
    local = np.einsum("pij,pj->pi", rotations[time_of_sample], gcrs)
    candidates = local[time_of_sample % 10 == 0] if np.any(time_of_sample % 10 == 0) else local
    # Which members a candidate field holds at some frame: the samples come member by member
    # (np.nonzero's order), so each member's samples are one slice to reduce.
    starts = np.flatnonzero(np.diff(member_of_sample, prepend=-1) != 0)
    cos_radius = math.cos(math.radians(0.9 * plan.fov_radius_deg))
    crossed = np.zeros((len(candidates), members.size), dtype=bool)
    for k in range(0, len(candidates), 256):  # bounded memory
        inside = candidates[k : k + 256] @ local.T >= cos_radius
        crossed[k : k + 256, member_of_sample[starts]] = np.logical_or.reduceat(
            inside, starts, axis=1
        )
    per_train = crossed.astype(np.int64) @ (train_of[:, None] == np.arange(len(trains)))
    best, train = np.unravel_index(int(np.argmax(per_train)), per_train.shape)
    passing = crossed[best] & (train_of == train)
    launch = launch_designators(sky)[int(trains[train][0])]
    return _az_alt_deg(candidates[best]), sky.norad_ids[members[passing]], launch


def _field_centres(
    plan: SensorPlan, pointing: tuple[float, float], times: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """RA/Dec of the field centre at each frame time."""
    if plan.host_norad_id is not None:
        return np.full(times.shape, pointing[0]), np.full(times.shape, pointing[1])
    az_deg, alt_deg = pointing
    local = _local_unit(np.array(alt_deg), np.array(az_deg))
    gcrs = np.einsum("tji,j->ti", _local_rotation(plan, times), local)
    return radec_from_unit(gcrs)


def _pointing(
    plan: SensorPlan,
    sensor: Sensor,
    sky: Catalogue,
    coarse: SkyPrediction,
    usable: NDArray[np.bool_],
    standard_mag: NDArray[np.float64],
    times: NDArray[np.float64],
    settings: ScenarioSettings,
) -> tuple[dict, Callable[[NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]]]:
    """How ``plan``'s task places the field (the ``pointings`` entry of the scenario), and
    the field centres (RA, Dec) it gives at any times."""
    if plan.task == "geo_cluster" and sensor.is_space_based:
        members = _space_cluster_targets(plan, coarse, usable, settings)
        record = {"kind": "tracking", "targets": members.tolist()}
        return record, partial(_tracking_centres, sky, sensor, members)
    targets: dict = {}
    if sensor.is_space_based:
        ra_dec = _space_pointing(plan, coarse, usable, settings)
        record = {"kind": "fixed_radec", "ra_deg": ra_dec[0], "dec_deg": ra_dec[1]}
        return record, partial(_field_centres, plan, ra_dec)
    if plan.task == "geo_cluster":
        az_el, members = _ground_cluster_pointing(plan, coarse, usable)
        targets = {"targets": members.tolist()}
    elif plan.task == "leo_train":
        az_el, members, launch = _train_pointing(plan, sensor, sky, standard_mag, times)
        targets = {"targets": members.tolist(), "launch": launch}
    else:
        az_el = _ground_pointing(plan, coarse, usable)
    record = {"kind": "fixed_azel", "az_deg": az_el[0], "el_deg": az_el[1], **targets}
    return record, partial(_field_centres, plan, az_el)


# --------------------------------------------------------------------------------------------
# Detections


def _random_in_cap(
    rng: np.random.Generator, n: int, ra0: float, dec0: float, radius_deg: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points uniform in solid angle within ``radius_deg`` of ``(ra0, dec0)``."""
    cos_r = math.cos(math.radians(radius_deg))
    rho = np.arccos(1.0 - rng.random(n) * (1.0 - cos_r))  # angular distance from centre
    bearing = rng.random(n) * 2.0 * math.pi
    # tan(rho) is the gnomonic distance of a point at angular distance rho.
    distance = np.degrees(np.tan(rho))
    return radec_from_gnomonic(distance * np.sin(bearing), distance * np.cos(bearing), ra0, dec0)


def _with_noise(
    rng: np.random.Generator,
    ra: NDArray[np.float64],
    dec: NDArray[np.float64],
    sigma_arcsec: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gaussian errors of ``sigma_arcsec`` on each tangent-plane axis around each point."""
    xi, eta = rng.standard_normal((2, ra.size)) * sigma_arcsec / ARCSEC_PER_DEG
    return radec_from_gnomonic(xi, eta, ra, dec)


def _column(prediction: SkyPrediction, k: int) -> SkyPrediction:
    """The scalar-time prediction of time ``k`` of an ``(N, T)`` prediction."""
    changes = {
        f.name: getattr(prediction, f.name)[..., k]
        for f in fields(prediction)
        if getattr(prediction, f.name).ndim == 2
    }
    return replace(prediction, time_unix_s=prediction.time_unix_s[k], **changes)


@dataclass
class _SensorRun:
    """What one sensor produced: frames, the label of each detection, the truth in view."""

    frames: list[Frame] = field(default_factory=list)
    labels: dict[str, int | None] = field(default_factory=dict)
    in_view: list[dict] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)  # detections per NORAD id


def _observe(
    plan: SensorPlan,
    sensor: Sensor,
    truth: Catalogue,
    standard_mag: NDArray[np.float64],
    times: NDArray[np.float64],
    centres: tuple[NDArray[np.float64], NDArray[np.float64]],
    settings: ScenarioSettings,
    rng: np.random.Generator,
) -> _SensorRun:
    run = _SensorRun()
    sun, _ = sun_and_earth_velocity(times)
    sun_unit = sun / np.linalg.norm(sun, axis=-1, keepdims=True)
    fa_mag_low = plan.limiting_mag - 1.5
    # Every truth object at every frame time at once: (N, T) arrays, a column per frame.
    everything = predict_sky(truth, sensor, times) if len(truth) else None
    for k, t in enumerate(times):
        frame_id = f"{plan.sensor_id}-{k:05d}"
        fov = FieldOfView(
            ra_deg=float(centres[0][k]) % 360.0,
            dec_deg=float(centres[1][k]),
            radius_deg=plan.fov_radius_deg,
        )
        view = None
        if everything is not None:
            p = _column(everything, k)
            view = p.select(in_field_of_view(p, fov, margin=1.0) & p.visible())
        if view is not None and view.index.size:
            mag = _apparent_magnitude(standard_mag[view.index], view, sun_unit[k])
            pd = settings.detection_probability / (
                1.0 + np.exp((mag - plan.limiting_mag) / settings.pd_softness_mag)
            )
            seen = rng.random(mag.size) < pd
            detectable = mag <= plan.limiting_mag
            run.in_view.append(
                {
                    "frame_id": frame_id,
                    "objects": [
                        {
                            "norad_id": int(n),
                            "ra_deg": round(float(r), 7),
                            "dec_deg": round(float(d), 7),
                            "mag": round(float(m), 2),
                        }
                        for n, r, d, m in zip(
                            view.norad_ids[detectable],
                            view.ra_deg[detectable],
                            view.dec_deg[detectable],
                            mag[detectable],
                        )
                    ],
                }
            )
            obj_ids, obj_ra, obj_dec, obj_mag = blend_unresolved(
                view.norad_ids[seen].astype(np.int64),
                view.ra_deg[seen],
                view.dec_deg[seen],
                mag[seen],
                plan.resolution_arcsec,
            )
        else:
            run.in_view.append({"frame_id": frame_id, "objects": []})
            obj_ids, obj_ra, obj_dec, obj_mag = (
                np.zeros(0, np.int64),
                np.zeros(0),
                np.zeros(0),
                np.zeros(0),
            )
        n_false = int(rng.poisson(settings.false_alarms_per_frame))
        fa_ra, fa_dec = _random_in_cap(rng, n_false, fov.ra_deg, fov.dec_deg, fov.radius_deg)
        fa_mag = rng.uniform(fa_mag_low, plan.limiting_mag, n_false)
        ra_true = np.concatenate([obj_ra, fa_ra])
        dec_true = np.concatenate([obj_dec, fa_dec])
        true_mag = np.concatenate([obj_mag, fa_mag])
        labels: list[int | None] = [int(n) for n in obj_ids] + [None] * n_false
        # Fainter sources are centroided worse: sigma grows with the inverse of the flux
        # within 2.5 mag of the limit, up to faint_sigma_factor times the sensor's sigma.
        factor = np.clip(
            10.0 ** (0.4 * (true_mag - (plan.limiting_mag - 2.5))), 1.0, settings.faint_sigma_factor
        )
        sigma = plan.sigma_arcsec * factor
        ra, dec = _with_noise(rng, ra_true, dec_true, sigma)
        mag_out = true_mag + settings.magnitude_noise * rng.standard_normal(true_mag.size)
        order = rng.permutation(len(labels))  # the order within a frame must leak nothing
        detections = []
        for i, j in enumerate(order.tolist()):
            det_id = f"{frame_id}:{i}"
            detections.append(
                Detection(
                    det_id=det_id,
                    ra_deg=round(float(ra[j]), 7) % 360.0,
                    dec_deg=round(float(dec[j]), 7),
                    sigma_arcsec=round(float(sigma[j]), 3),
                    mag=round(float(mag_out[j]), 2),
                )
            )
            run.labels[det_id] = labels[j]
            if labels[j] is not None:
                run.counts[labels[j]] = run.counts.get(labels[j], 0) + 1
        run.frames.append(
            Frame(
                frame_id=frame_id,
                sensor_id=plan.sensor_id,
                time=datetime_from_unix(float(t)),
                exposure_s=plan.exposure_s,
                fov=fov,
                detections=detections,
            )
        )
    return run


def blend_unresolved(
    ids: NDArray[np.int64],
    ra_deg: NDArray[np.float64],
    dec_deg: NDArray[np.float64],
    mag: NDArray[np.float64],
    resolution_arcsec: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Merge sources closer than ``resolution_arcsec`` (chains included) into one each.

    A detector cannot split two images closer than its resolution: they give one detection at
    their flux-weighted centroid, with their summed flux, labelled with the brightest member
    (what a human checking the frame would call it). Returns ``(ids, ra, dec, mag)`` of the
    surviving sources, in the order of their brightest members.
    """
    n = ids.size
    if n < 2:
        return ids, ra_deg, dec_deg, mag
    close = (
        angular_separation_deg(ra_deg[:, None], dec_deg[:, None], ra_deg[None, :], dec_deg[None, :])
        * ARCSEC_PER_DEG
        < resolution_arcsec
    )
    # Connected groups of the "closer than resolution" graph, by repeated relaxation of each
    # source's group label to the smallest label it touches (n is a handful per frame).
    group = np.arange(n)
    while True:
        relaxed = np.min(np.where(close, group[None, :], n), axis=1)
        if np.array_equal(relaxed, group):
            break
        group = relaxed
    if np.unique(group).size == n:
        return ids, ra_deg, dec_deg, mag
    flux = 10.0 ** (-0.4 * mag)
    units = unit_from_radec(ra_deg, dec_deg) * flux[:, None]
    keep = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        keep.append(members[np.argmax(flux[members])])
    keep = np.array(keep)
    total_flux = np.array([flux[group == group[k]].sum() for k in keep])
    centroid = np.stack([units[group == group[k]].sum(axis=0) for k in keep])
    ra, dec = radec_from_unit(centroid)
    return ids[keep], ra, dec, -2.5 * np.log10(total_flux)


def _candidates(
    coarse: SkyPrediction,
    centres: tuple[NDArray[np.float64], NDArray[np.float64]],
    radius_deg: float,
    slack_s: float,
) -> NDArray[np.intp]:
    """Catalogue indices of the objects that may enter the field at some frame.

    ``coarse`` predicts the whole catalogue at sample times and ``centres`` are the field
    centres then. An object qualifies if, at some sample, it lies within ``radius_deg`` plus
    the distance its own rate carries it in ``slack_s`` seconds.
    """
    separation = angular_separation_deg(coarse.ra_deg, coarse.dec_deg, centres[0], centres[1])
    rate = np.hypot(coarse.ra_rate_deg_s, coarse.dec_rate_deg_s)
    with np.errstate(invalid="ignore"):
        near = coarse.valid & (separation <= radius_deg + slack_s * rate)
    return coarse.index[np.any(near, axis=1)]


def _neighbours(runs: dict[str, _SensorRun], radius_deg: float) -> dict[int, set[int]]:
    """For each object, the objects within ``radius_deg`` of it in some frame (true positions
    of the detectable objects in view)."""
    near: dict[int, set[int]] = defaultdict(set)
    for run in runs.values():
        for view in run.in_view:
            objects = view["objects"]
            if len(objects) < 2:
                continue
            ids = [o["norad_id"] for o in objects]
            ra = np.array([o["ra_deg"] for o in objects])
            dec = np.array([o["dec_deg"] for o in objects])
            close = angular_separation_deg(ra[:, None], dec[:, None], ra, dec) <= radius_deg
            for i, j in zip(*np.nonzero(np.triu(close, 1))):
                near[ids[i]].add(ids[j])
                near[ids[j]].add(ids[i])
    return near


def _withhold(
    runs: dict[str, _SensorRun],
    settings: ScenarioSettings,
    seed: int,
    uncatalogued: frozenset[int] = frozenset(),
) -> list[int]:
    """Pick catalogued objects to withhold: about ``withheld_fraction`` of those seen well,
    and at least one per sensor that saw any.

    ``uncatalogued`` objects (seen, but not in the engine's catalogue at all) are UCTs
    already: they count towards the fraction and cover the sensors that saw them well. With
    ``withhold_near_deg``, each pick is made among the objects that have a catalogued
    neighbour within it (one neither uncatalogued nor already picked) when there are any.
    """
    if settings.withheld_fraction == 0.0:
        return []
    rng = np.random.default_rng((seed, _STREAM_WITHHOLD))
    well_seen = {
        sid: sorted(n for n, c in run.counts.items() if c >= settings.min_detections_to_withhold)
        for sid, run in runs.items()
    }
    everything = sorted(set().union(*well_seen.values()))
    near = _neighbours(runs, settings.withhold_near_deg) if settings.withhold_near_deg else {}
    chosen: set[int] = set()

    def beside_a_catalogued_one(ids: list[int]) -> list[int]:
        return [n for n in ids if near.get(n, set()) - uncatalogued - chosen - {n}]

    for sid in sorted(well_seen):
        ids = [n for n in well_seen[sid] if n not in uncatalogued]
        if ids and not (chosen | uncatalogued).intersection(well_seen[sid]):
            pool = beside_a_catalogued_one(ids) or ids
            chosen.add(int(pool[rng.integers(len(pool))]))
    target = round(settings.withheld_fraction * len(everything))
    extra = max(0, target - len(chosen) - len(uncatalogued.intersection(everything)))
    rest = [n for n in everything if n not in chosen and n not in uncatalogued]
    if not near:
        if extra and rest:
            picks = rng.choice(rest, size=min(extra, len(rest)), replace=False)
            chosen.update(int(n) for n in picks)
        return sorted(chosen)
    for _ in range(min(extra, len(rest))):  # one at a time: each pick changes who is beside whom
        pool = beside_a_catalogued_one(rest) or rest
        pick = int(pool[rng.integers(len(pool))])
        chosen.add(pick)
        rest.remove(pick)
    return sorted(chosen)


# --------------------------------------------------------------------------------------------
# The scenario, and writing it


@dataclass(frozen=True)
class Scenario:
    """A simulated scenario: what the sensors reported, and the truth to score a run by.

    ``frames`` are those of every sensor in time order (ties by ``sensor_id``); ``truth`` maps
    each detection id, in the frames' order, to the NORAD id of the object it shows (None: a
    false alarm). ``objects_in_view`` gives per frame id the noise-free positions of the
    detectable objects in the field, ``{"norad_id", "ra_deg", "dec_deg", "mag"}`` each (the
    GOSPA truth); ``pointings`` per sensor id how the field was placed (``{"kind":
    "fixed_azel", "az_deg", "el_deg"}`` on the ground, ``{"kind": "fixed_radec", "ra_deg",
    "dec_deg"}`` in orbit; a ``geo_cluster`` or ``leo_train`` pointing adds ``targets``, the
    NORAD ids of the cluster or of the train members crossing the field, and a train its
    ``launch``). ``catalogue`` is what the engine is given: the input catalogue less
    ``withheld_norad_ids``. ``uncatalogued_norad_ids`` are the objects detected that the
    input catalogue does not hold (snapshot staleness: launches since the older snapshot);
    they are among ``withheld_norad_ids``, as they too should come out as UCTs.
    ``far_off_norad_ids`` (snapshot staleness) are the catalogued objects detected whose
    element set in the input catalogue is further than ``FAR_OFF_SIGMA`` sigmas of the fitted
    error model from the truth (a manoeuvre, a decay): a correlator that trusts the error model
    should leave them UCTs, and the evaluation reports them apart.
    """

    seed: int
    settings: ScenarioSettings
    sensors: list[Sensor]
    frames: list[Frame]
    truth: dict[str, int | None]
    withheld_norad_ids: list[int]
    pointings: dict[str, dict]
    objects_in_view: dict[str, list[dict]]
    catalogue: Catalogue
    uncatalogued_norad_ids: list[int] = field(default_factory=list)
    far_off_norad_ids: list[int] = field(default_factory=list)


def simulate(
    catalogue: Catalogue,
    *,
    seed: int = 0,
    settings: ScenarioSettings = ScenarioSettings(),
    truth_catalogue: Catalogue | None = None,
) -> Scenario:
    """Simulate what the sensors of ``settings`` report of the objects of ``catalogue``.

    ``catalogue`` is the engine's (the scenario's catalogue is it less the withheld objects).
    With ``settings.staleness == "snapshots"`` the sensors see ``truth_catalogue``, a newer
    snapshot, propagated as it is; with ``"perturbed"`` they see ``catalogue`` perturbed (and
    ``truth_catalogue`` must be None).

    Raises ``ValueError`` if a ground site is not dark (Sun above -12 degrees) during the
    scenario, or a sensor finds nothing to point at.
    """
    snapshots = settings.staleness == "snapshots"
    if snapshots != (truth_catalogue is not None):
        raise ValueError(
            "staleness 'snapshots' takes the truth from truth_catalogue, a newer snapshot than "
            "the catalogue; 'perturbed' perturbs the catalogue and takes no truth_catalogue"
        )
    sky = truth_catalogue if truth_catalogue is not None else catalogue  # what sensors see
    start = unix_from_datetime(settings.start_time)
    standard_mag = _standard_magnitudes(sky, settings, seed)
    rng = np.random.default_rng((seed, _STREAM_DETECT))
    runs: dict[str, _SensorRun] = {}
    sensors: list[Sensor] = []
    pointings: dict[str, dict] = {}
    for k, plan in enumerate(settings.sensors):
        sensor = _sensor(plan, sky)
        sensors.append(sensor)
        first = start + k * settings.sensor_time_offset_s
        times = first + np.arange(0.0, settings.duration_s, plan.cadence_s)
        if not sensor.is_space_based:
            sun_alt = np.asarray(sun_altitude_deg(sensor, times))
            if np.max(sun_alt) >= NIGHT_SUN_ALTITUDE_DEG:
                worst = int(np.argmax(sun_alt))
                raise ValueError(
                    f"sensor {plan.sensor_id!r}: the Sun is at {sun_alt[worst]:.1f} deg at "
                    f"{format_time(datetime_from_unix(times[worst]))}, not below "
                    f"{NIGHT_SUN_ALTITUDE_DEG} deg: choose start_time at night for this site"
                )
        search_times = first + np.arange(
            0.0, settings.duration_s + settings.search_step_s, settings.search_step_s
        )
        # One prediction of the whole catalogue every search step serves both to choose the
        # pointing and to find the few objects worth propagating at every frame.
        coarse = predict_sky(sky, sensor, search_times, light_time=False)
        sun, _ = sun_and_earth_velocity(search_times)
        with np.errstate(invalid="ignore"):
            usable = coarse.visible() & (
                _apparent_magnitude(
                    standard_mag[coarse.index, None],
                    coarse,
                    sun / np.linalg.norm(sun, axis=-1, keepdims=True),
                )
                <= plan.limiting_mag
            )
        pointings[plan.sensor_id], centres_at = _pointing(
            plan, sensor, sky, coarse, usable, standard_mag, times, settings
        )
        centres, search_centres = centres_at(times), centres_at(search_times)
        # Every frame is within half a search step of a sample, and the truth may sit
        # 4 sigma along-track (seconds) and a little across (the 0.5 deg) from the
        # catalogue: 50 % more time than that covers curved paths too.
        slack_s = 1.5 * (0.5 * settings.search_step_s + 4.0 * _timing_sigma_bound_s(sky, settings))
        index = _candidates(coarse, search_centres, plan.fov_radius_deg + 0.5, slack_s)
        truth = (
            sky.subset(index) if snapshots else _truth_catalogue(catalogue, index, settings, seed)
        )
        truth_mag = standard_mag[sky.index_of(truth.norad_ids)]
        runs[plan.sensor_id] = _observe(
            plan, sensor, truth, truth_mag, times, centres, settings, rng
        )
    detected = sorted({n for run in runs.values() for n in run.counts})
    uncatalogued = [n for n, i in zip(detected, catalogue.index_of(detected).tolist()) if i < 0]
    chosen = _withhold(runs, settings, seed, frozenset(uncatalogued))
    frames = sorted(
        (f for run in runs.values() for f in run.frames), key=lambda f: (f.time, f.sensor_id)
    )
    return Scenario(
        seed=seed,
        settings=settings,
        sensors=sensors,
        frames=frames,
        truth={
            det.det_id: runs[frame.sensor_id].labels[det.det_id]
            for frame in frames
            for det in frame.detections
        },
        withheld_norad_ids=sorted(set(chosen).union(uncatalogued)),
        pointings=pointings,
        objects_in_view={v["frame_id"]: v["objects"] for run in runs.values() for v in run.in_view},
        catalogue=catalogue.without(chosen),
        uncatalogued_norad_ids=uncatalogued,
        far_off_norad_ids=(
            far_off(
                catalogue,
                sky,
                [n for n in detected if n not in uncatalogued],
                start + settings.duration_s / 2.0,
            )
            if snapshots
            else []
        ),
    )


def _model_sigmas(catalogue: Catalogue, settings: ScenarioSettings) -> ElementSigmas:
    """The fitted model's 1-sigma errors of every set at the middle of the scenario."""
    middle = unix_from_datetime(settings.start_time) + settings.duration_s / 2.0
    return read_element_error_model().sigmas_for(catalogue, middle)


def _timing_sigma_bound_s(catalogue: Catalogue, settings: ScenarioSettings) -> float:
    """The along-track sigma (s) the truth may be drawn with, for the candidate search: the
    fixed one, or the fitted model's 99th percentile over the catalogue, at most
    ``MAX_TIMING_SLACK_S`` (a few manoeuvring sets are off by many minutes)."""
    if settings.staleness != "model":
        return settings.along_track_sigma_s
    timing = _model_sigmas(catalogue, settings).timing_s
    return float(min(np.percentile(timing, 99.0), MAX_TIMING_SLACK_S)) if len(timing) else 0.0


#: An element set further than this many sigmas (fitted model, any component) from the truth
#: is "far off": no honest correlator can name its object from it.
FAR_OFF_SIGMA = 5.0


def far_off(
    catalogue: Catalogue, truth: Catalogue, norad_ids: list[int], time_unix_s: float
) -> list[int]:
    """The objects among ``norad_ids`` whose element set in ``catalogue`` is further than
    ``FAR_OFF_SIGMA`` sigmas of the fitted element-set error model from their set in ``truth``
    at ``time_unix_s``, in the truth's radial, in-track or cross-track direction."""

    ids = np.array(sorted(norad_ids), dtype=np.int64)
    if ids.size == 0:
        return []
    mine, theirs = catalogue.index_of(ids), truth.index_of(ids)
    jd, fraction = jd_from_unix(np.array([time_unix_s]))
    _, r, _ = catalogue.subset(mine).satrec_array.sgp4(jd, fraction)
    _, r_true, v_true = truth.subset(theirs).satrec_array.sgp4(jd, fraction)
    r, r_true, v_true = r[:, 0], r_true[:, 0], v_true[:, 0]
    radial = r_true / np.linalg.norm(r_true, axis=1, keepdims=True)
    cross = np.cross(r_true, v_true)
    cross /= np.linalg.norm(cross, axis=1, keepdims=True)
    along = np.cross(cross, radial)
    offset = r - r_true
    age_days = (time_unix_s - catalogue.epoch_unix_s[mine]) / SECONDS_PER_DAY
    sigma = read_element_error_model().sigmas(orbit_classes(catalogue)[mine], age_days)
    z = np.max(
        np.abs(
            np.stack(
                [
                    np.sum(offset * radial, 1) / sigma.radial_km,
                    np.sum(offset * along, 1) / sigma.in_track_km,
                    np.sum(offset * cross, 1) / sigma.cross_track_km,
                ]
            )
        ),
        axis=0,
    )
    return [int(n) for n in ids[z > FAR_OFF_SIGMA]]


def write_scenario(scenario: Scenario, out_dir: str | Path) -> ScenarioSummary:
    """Write ``scenario`` to the files of the module docstring in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "catalog").mkdir(exist_ok=True)
    write_frames_jsonl(scenario.frames, out / "frames.jsonl")
    write_sensors(scenario.sensors, out / "sensors.json")
    (out / "truth.json").write_text(json.dumps(scenario.truth, indent=1) + "\n")
    scenario.catalogue.write(out / "catalog" / "catalog.tle")
    document = {
        "format": "orbitlink-scenario/1",
        "seed": scenario.seed,
        "settings": scenario.settings.model_dump(),
        "withheld_norad_ids": scenario.withheld_norad_ids,
        "uncatalogued_norad_ids": scenario.uncatalogued_norad_ids,
        "far_off_norad_ids": scenario.far_off_norad_ids,
        "pointings": scenario.pointings,
        "frames": [
            {
                "frame_id": f.frame_id,
                "sensor_id": f.sensor_id,
                "time": format_time(f.time),
                "fov": f.fov.model_dump(),
                "objects": scenario.objects_in_view[f.frame_id],
            }
            for f in scenario.frames
        ],
    }
    (out / "scenario.json").write_text(json.dumps(document, indent=1) + "\n")
    return _summary(scenario, out)


def _summary(scenario: Scenario, out: Path) -> ScenarioSummary:
    settings, truth = scenario.settings, scenario.truth
    frames_by_sensor = dict.fromkeys((plan.sensor_id for plan in settings.sensors), 0)
    detections_by_sensor = dict(frames_by_sensor)
    objects_by_sensor: dict[str, set[int]] = {sid: set() for sid in frames_by_sensor}
    for frame in scenario.frames:
        frames_by_sensor[frame.sensor_id] += 1
        detections_by_sensor[frame.sensor_id] += len(frame.detections)
        objects_by_sensor[frame.sensor_id].update(
            n for d in frame.detections if (n := truth[d.det_id]) is not None
        )
    end = max(f.time for f in scenario.frames) if scenario.frames else None
    return ScenarioSummary(
        out_dir=str(out),
        seed=scenario.seed,
        start_time=settings.start_time,
        end_time=format_time(end) if end else settings.start_time,
        n_frames=len(scenario.frames),
        n_detections=len(truth),
        n_false_alarms=sum(v is None for v in truth.values()),
        n_objects_detected=len(set(truth.values()) - {None}),
        withheld_norad_ids=scenario.withheld_norad_ids,
        catalogue_size=len(scenario.catalogue),
        frames_by_sensor=frames_by_sensor,
        detections_by_sensor=detections_by_sensor,
        objects_by_sensor={sid: len(ids) for sid, ids in objects_by_sensor.items()},
        uncatalogued_norad_ids=scenario.uncatalogued_norad_ids,
    )


def simulate_scenario(
    catalog_path: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    settings: ScenarioSettings = ScenarioSettings(),
    truth_catalog_path: str | Path | None = None,
) -> ScenarioSummary:
    """Simulate a scenario from the catalogue at ``catalog_path`` (and, for snapshot
    staleness, the newer one at ``truth_catalog_path``) and write it to ``out_dir``:
    :func:`simulate` then :func:`write_scenario` (and the errors of :func:`simulate`)."""
    truth = None if truth_catalog_path is None else Catalogue.from_path(truth_catalog_path)
    scenario = simulate(
        Catalogue.from_path(catalog_path), seed=seed, settings=settings, truth_catalogue=truth
    )
    return write_scenario(scenario, out_dir)
