"""How far off an element set is, by orbit class and age: the fitted element-set error model.

A TLE is a fit to past observations; propagated away from its epoch it drifts from where the
object really is, mostly along the track. This module gives the 1-sigma size of that drift in
the object's radial / in-track / cross-track frame, and as a timing offset, as a function of
the set's age (evaluation time minus element-set epoch, days; negative when a set is used
before its epoch), for a few orbit classes. The numbers come from a fit on two real catalogue
snapshots (:mod:`orbitlink.tracking.element_error_fit`, ``tools/fit_error_model.py``); the
shipped table is ``tracking/data/element_error.json`` and ``docs/error-model.md`` quotes it.

Each class and component follows the law

    sigma(age) = sqrt(s0**2 + (s1 * age)**2 + (s2 * age**2)**2)

whose three terms are the error of a fresh set (s0, which also holds the reference set's own
error), a mean-motion error growing linearly along the track (s1 per day) and an unmodelled
drag acceleration growing quadratically (s2 per day squared). The law is even in age, so a set
used before its epoch gets the sigma of the same age after it. Besides this Gaussian core, a
share of objects (manoeuvres, decays, mis-tagged ids) is far off; ``tail_fraction`` gives the
share of measurements beyond 5 sigma, which a correlator must allow for separately.

Classes are decided from each element set alone (:func:`classify_orbits`), in this order:

* ``starlink*`` / ``oneweb``: by name prefix, constellations whose satellites manoeuvre or keep
  station between element sets. Starlink is split by B*, which in their sets absorbs thrust as
  well as drag and predicts the error better than the altitude: ``starlink`` (|B*| < 1e-4),
  ``starlink_drag`` (< 5e-4), ``starlink_high_drag`` (< 1.5e-3), ``starlink_manoeuvring``.
* ``heo``: eccentricity >= 0.25 (Molniya, GTO, science orbits).
* ``geo``: 0.9-1.1 revolutions a day, i.e. geosynchronous, inclined or not.
* ``leo_drag``: perigee below 2000 km and |B*| >= 2e-4 (drag-dominated, whatever the height).
* ``leo_low`` / ``leo_high``: the other LEO objects, perigee below / above 700 km.
* ``meo``: everything else (perigee above 2000 km).

A class with too few objects in the snapshots fitted to measure its own growth borrows the
growth of its basis class (:data:`BASIS_CLASS`), scaled to its own objects' errors when it has
a few (``heo``) or as it is when it has hardly any (``meo`` in the 2026-05 pair: the groups
fitted hold no navigation satellites); the table records which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .catalogue import Catalogue
from .constants import SECONDS_PER_DAY
from .errors import FormatError
from .types import Array, IntArray

__all__ = [
    "BASIS_CLASS",
    "COMPONENTS",
    "ElementErrorModel",
    "ElementSigmas",
    "ORBIT_CLASSES",
    "TABLE_FORMAT",
    "classify_orbits",
    "growth_sigma",
    "orbit_classes",
    "read_element_error_model",
    "write_element_error_model",
]

#: The orbit classes, in the order of their integer codes.
ORBIT_CLASSES: tuple[str, ...] = (
    "leo_low",
    "leo_high",
    "leo_drag",
    "starlink",
    "starlink_drag",
    "starlink_high_drag",
    "starlink_manoeuvring",
    "oneweb",
    "meo",
    "geo",
    "heo",
)

#: The class whose growth a class borrows when the snapshots fitted hold too few of its objects
#: to measure its own (see :mod:`orbitlink.tracking.element_error_fit`). Chains end at ``geo``
#: and ``starlink_drag``, of which every CelesTrak snapshot holds hundreds.
BASIS_CLASS: Mapping[str, str | None] = {
    "leo_low": "leo_drag",
    "leo_high": "leo_low",
    "leo_drag": "starlink_drag",
    "starlink": "starlink_drag",
    "starlink_drag": None,
    "starlink_high_drag": "starlink_drag",
    "starlink_manoeuvring": "starlink_high_drag",
    "oneweb": "leo_high",
    "meo": "geo",
    "geo": None,
    "heo": "geo",
}

#: The modelled components: differences in the true object's radial / in-track / cross-track
#: frame (km), the in-track difference as a time offset (s) and as an angle seen from the
#: Earth's centre (arcsec, the figure that matters for GEO).
COMPONENTS: tuple[str, ...] = (
    "radial_km",
    "in_track_km",
    "cross_track_km",
    "timing_s",
    "in_track_arcsec",
)

#: The ``format`` field of the JSON table.
TABLE_FORMAT = "orbitlink.element_error/1"
#: How a class's law was made (see :class:`ElementErrorModel`).
METHODS = ("fitted", "scaled", "copied")
#: A measurement beyond this many sigma counts in the tail.
TAIL_SIGMA = 5.0

DEFAULT_TABLE = "element_error.json"  # in the package's data/ folder

# Classification thresholds, chosen from the 2026-05 snapshots (docs/error-model.md shows the
# error against each): B* in 1/Earth radii as in a TLE, heights above the WGS72 sphere.
STARLINK_PREFIX = "STARLINK"
ONEWEB_PREFIX = "ONEWEB"
STARLINK_BSTAR_EDGES = (1e-4, 5e-4, 1.5e-3)
HEO_MIN_ECCENTRICITY = 0.25
GEO_REV_PER_DAY = (0.9, 1.1)
LEO_MAX_PERIGEE_KM = 2000.0
LEO_HIGH_MIN_PERIGEE_KM = 700.0
LEO_DRAG_MIN_BSTAR = 2e-4


class ElementSigmas(NamedTuple):
    """1-sigma element-set errors, each broadcast over the class codes and ages given."""

    radial_km: Array
    in_track_km: Array
    cross_track_km: Array
    timing_s: Array


# ------------------------------------------------------------------------------ classes


def _class_code(name: str) -> int:
    return ORBIT_CLASSES.index(name)


def classify_orbits(
    rev_per_day: ArrayLike,
    eccentricity: ArrayLike,
    perigee_height_km: ArrayLike,
    bstar: ArrayLike,
    names: Sequence[str],
) -> IntArray:
    """Orbit class codes (indices into :data:`ORBIT_CLASSES`) from element-set values.

    ``rev_per_day`` is the mean motion, ``perigee_height_km`` the perigee above the Earth's
    equatorial radius, ``bstar`` the TLE drag term (1/Earth radii) and ``names`` the object
    names (upper or lower case). The rules are the module docstring's, applied in its order.
    """
    motion = np.asarray(rev_per_day, dtype=float)
    ecc = np.asarray(eccentricity, dtype=float)
    perigee = np.asarray(perigee_height_km, dtype=float)
    drag = np.abs(np.asarray(bstar, dtype=float))
    upper = np.char.upper(np.asarray(list(names), dtype=str))
    if not (motion.shape == ecc.shape == perigee.shape == drag.shape == upper.shape):
        raise ValueError("classify_orbits takes 1-D arrays and names of one length")

    # Written from the last rule to the first: a later assignment overrides an earlier one.
    codes = np.full(motion.shape, _class_code("meo"), dtype=np.intp)
    leo = perigee < LEO_MAX_PERIGEE_KM
    codes[leo & (perigee < LEO_HIGH_MIN_PERIGEE_KM)] = _class_code("leo_low")
    codes[leo & (perigee >= LEO_HIGH_MIN_PERIGEE_KM)] = _class_code("leo_high")
    codes[leo & (drag >= LEO_DRAG_MIN_BSTAR)] = _class_code("leo_drag")
    codes[(motion > GEO_REV_PER_DAY[0]) & (motion < GEO_REV_PER_DAY[1])] = _class_code("geo")
    codes[ecc >= HEO_MIN_ECCENTRICITY] = _class_code("heo")
    codes[np.char.startswith(upper, ONEWEB_PREFIX)] = _class_code("oneweb")
    starlink = np.char.startswith(upper, STARLINK_PREFIX)
    band = np.searchsorted(STARLINK_BSTAR_EDGES, drag, side="right")
    starlink_codes = np.array(
        [_class_code(name) for name in ORBIT_CLASSES if name.startswith("starlink")]
    )
    codes[starlink] = starlink_codes[band[starlink]]
    return codes


def orbit_classes(catalogue: Catalogue) -> IntArray:
    """The orbit class code of every element set of ``catalogue``, in catalogue order."""
    satrecs = catalogue.satrecs
    # The values sgp4's initialisation derived and propagates with: mean motion (rad/min) and
    # perigee height (in Earth radii of its gravity model, WGS72 for TLEs).
    no_kozai = np.array([s.no_kozai for s in satrecs], dtype=float)
    perigee_er = np.array([s.altp for s in satrecs], dtype=float)
    radius_km = np.array([s.radiusearthkm for s in satrecs], dtype=float)
    return classify_orbits(
        no_kozai * (SECONDS_PER_DAY / 60.0) / (2.0 * np.pi),
        np.array([s.ecco for s in satrecs], dtype=float),
        perigee_er * radius_km,
        np.array([s.bstar for s in satrecs], dtype=float),
        catalogue.names,
    )


# -------------------------------------------------------------------------------- model


def growth_sigma(coefficients: ArrayLike, age_days: ArrayLike) -> Array:
    """``sqrt(s0**2 + (s1*age)**2 + (s2*age**2)**2)`` for coefficients ``(..., 3)``."""
    s = np.asarray(coefficients, dtype=float)
    age_sq = np.square(np.asarray(age_days, dtype=float))
    return np.sqrt(
        np.square(s[..., 0]) + np.square(s[..., 1]) * age_sq + np.square(s[..., 2]) * age_sq**2
    )


@dataclass(frozen=True)
class ElementErrorModel:
    """The fitted error laws of every orbit class (see the module docstring).

    ``coefficients[c, k]`` holds ``(s0, s1, s2)`` of class ``c`` (a code of
    :data:`ORBIT_CLASSES`) and component ``k`` (of :data:`COMPONENTS`), in the component's unit,
    per day and per day squared; ``tail_fraction[c, k]`` the share of measurements beyond
    5 sigma. ``objects`` counts the objects each class was fitted on, ``age_range_days`` the
    central 90% of the ages measured (outside it the law is an extrapolation; NaN without
    objects). ``method`` tells how each law was made: ``"fitted"`` on the class's own objects,
    ``"scaled"`` (the growth of class ``basis`` scaled to this class's objects) or ``"copied"``
    (``basis``'s law as it is); ``source`` describes the snapshots.
    """

    coefficients: Array  # (C, K, 3)
    tail_fraction: Array  # (C, K)
    objects: IntArray  # (C,)
    age_range_days: Array  # (C, 2)
    method: tuple[str, ...]
    basis: tuple[str | None, ...]
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(ORBIT_CLASSES), len(COMPONENTS))
        if np.shape(self.coefficients) != (*shape, 3):
            raise ValueError(f"coefficients must have shape {(*shape, 3)}")
        if np.shape(self.tail_fraction) != shape:
            raise ValueError(f"tail_fraction must have shape {shape}")
        if np.shape(self.objects) != shape[:1] or np.shape(self.age_range_days) != (shape[0], 2):
            raise ValueError("objects and age_range_days need one row per orbit class")
        if len(self.method) != shape[0] or len(self.basis) != shape[0]:
            raise ValueError("method and basis need one entry per orbit class")
        for method, basis in zip(self.method, self.basis):
            if method not in METHODS or (basis is None) != (method == "fitted"):
                raise ValueError(f"method {method!r} with basis {basis!r}")
            if basis is not None and basis not in ORBIT_CLASSES:
                raise ValueError(f"unknown basis class {basis!r}")
        if np.any(~np.isfinite(self.coefficients)) or np.any(self.coefficients < 0):
            raise ValueError("coefficients must be finite and non-negative")
        if np.any(~((self.tail_fraction >= 0) & (self.tail_fraction <= 1))):
            raise ValueError("tail fractions must lie between 0 and 1")

    def sigma(self, component: str, class_codes: ArrayLike, age_days: ArrayLike) -> Array:
        """1-sigma error of one component for class codes and ages (broadcast together)."""
        k = COMPONENTS.index(component)
        codes = np.asarray(class_codes, dtype=np.intp)
        return growth_sigma(self.coefficients[codes, k], age_days)

    def sigmas(self, class_codes: ArrayLike, age_days: ArrayLike) -> ElementSigmas:
        """Radial, in-track, cross-track (km) and timing (s) 1-sigma errors.

        ``class_codes`` and ``age_days`` broadcast together (one class for many ages, or one
        age per object); ``age_days`` is evaluation time minus element-set epoch and may be
        negative.
        """
        codes = np.asarray(class_codes, dtype=np.intp)
        age = np.asarray(age_days, dtype=float)
        s = growth_sigma(self.coefficients[codes][..., :4, :], age[..., None])
        return ElementSigmas(s[..., 0], s[..., 1], s[..., 2], s[..., 3])

    def sigmas_for(self, catalogue: Catalogue, time_unix_s: float) -> ElementSigmas:
        """The sigmas of every element set of ``catalogue`` propagated to ``time_unix_s``."""
        age_days = (time_unix_s - catalogue.epoch_unix_s) / SECONDS_PER_DAY
        return self.sigmas(orbit_classes(catalogue), age_days)

    def tail(self, component: str, class_codes: ArrayLike) -> Array:
        """Share of measurements of ``component`` beyond 5 sigma, per class code."""
        return self.tail_fraction[
            np.asarray(class_codes, dtype=np.intp), COMPONENTS.index(component)
        ]

    # ---- the JSON table

    def to_dict(self) -> dict[str, Any]:
        """The JSON table (see :func:`write_element_error_model`)."""
        classes = {}
        for c, name in enumerate(ORBIT_CLASSES):
            classes[name] = {
                "objects": int(self.objects[c]),
                "age_range_days": (
                    [_rounded(x) for x in self.age_range_days[c]]
                    if np.all(np.isfinite(self.age_range_days[c]))
                    else None
                ),
                "method": self.method[c],
                "basis": self.basis[c],
                **{
                    component: {
                        "s0": _rounded(self.coefficients[c, k, 0]),
                        "s1_per_day": _rounded(self.coefficients[c, k, 1]),
                        "s2_per_day2": _rounded(self.coefficients[c, k, 2]),
                        "tail_fraction": _rounded(self.tail_fraction[c, k]),
                    }
                    for k, component in enumerate(COMPONENTS)
                },
            }
        return {
            "format": TABLE_FORMAT,
            "law": "sigma(age_days) = sqrt(s0^2 + (s1_per_day*age)^2 + (s2_per_day2*age^2)^2)",
            "tail_sigma": TAIL_SIGMA,
            "source": dict(self.source),
            "classes": classes,
        }

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], *, source: str = "table") -> ElementErrorModel:
        """Read the JSON table; :class:`FormatError` naming the field for anything wrong."""

        def fail(reason: str, where: str | None = None) -> FormatError:
            return FormatError(reason, source=source, field=where)

        if not isinstance(table, Mapping) or table.get("format") != TABLE_FORMAT:
            raise fail(f"not an element-error table (format must be {TABLE_FORMAT!r})", "format")
        classes = table.get("classes")
        if not isinstance(classes, Mapping) or set(classes) != set(ORBIT_CLASSES):
            raise fail(f"classes must be exactly {', '.join(ORBIT_CLASSES)}", "classes")
        shape = (len(ORBIT_CLASSES), len(COMPONENTS))
        coefficients = np.zeros((*shape, 3))
        tail = np.zeros(shape)
        objects = np.zeros(shape[0], dtype=np.intp)
        ages = np.full((shape[0], 2), np.nan)
        method: list[str] = []
        basis: list[str | None] = []
        for c, name in enumerate(ORBIT_CLASSES):
            entry = classes[name]
            where = f"classes.{name}"
            try:
                objects[c] = int(entry["objects"])
                if entry["age_range_days"] is not None:
                    ages[c] = [float(x) for x in entry["age_range_days"]]
                method.append(str(entry["method"]))
                basis.append(None if entry["basis"] is None else str(entry["basis"]))
                for k, component in enumerate(COMPONENTS):
                    law = entry[component]
                    coefficients[c, k] = [
                        float(law["s0"]),
                        float(law["s1_per_day"]),
                        float(law["s2_per_day2"]),
                    ]
                    tail[c, k] = float(law["tail_fraction"])
            except KeyError as error:
                raise fail(f"missing field {error.args[0]!r}", where) from None
            except (TypeError, ValueError) as error:
                raise fail(f"bad value: {error}", where) from None
        try:
            return cls(
                coefficients,
                tail,
                objects,
                ages,
                tuple(method),
                tuple(basis),
                dict(table.get("source", {})),
            )
        except ValueError as error:
            raise fail(str(error), "classes") from None


def _rounded(value: float) -> float:
    """Six significant digits: the table stays readable and the fit is not that exact."""
    return float(f"{float(value):.6g}")


def read_element_error_model(path: str | Path | None = None) -> ElementErrorModel:
    """The model in a JSON table; without ``path``, the table shipped with orbitlink."""
    if path is None:
        text = resources.files(__package__).joinpath("data", DEFAULT_TABLE).read_text()
        source = f"orbitlink.tracking/data/{DEFAULT_TABLE}"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        table = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"not JSON: {error.msg}", source=source, line_no=error.lineno) from None
    return ElementErrorModel.from_dict(table, source=source)


def write_element_error_model(model: ElementErrorModel, path: str | Path) -> None:
    """Write ``model`` as the JSON table :func:`read_element_error_model` reads."""
    Path(path).write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
