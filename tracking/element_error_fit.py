"""Fitting the element-set error model on two catalogue snapshots.

Measurement. The older snapshot holds the element sets under test, the newer one the truth.
Every object in both (with a later epoch in the newer snapshot) is propagated with sgp4 from
both sets to the newer set's epoch, where that set is most accurate, and to times around it,
hourly within half a day (:data:`EVALUATION_OFFSETS_DAYS`). Half a day, because the truth's own
error grows away from its epoch as any set's does: at half a day it is the error of a
half-day-old set, a few per cent of the three to five days' growth measured (the fitted laws
say how little), while a wider window would blend the truth's growth into the test's. The
times are dense and even so that each age bin below holds the same mix of objects (with a few
discrete offsets, neighbouring bins alternate between objects of different update cadence,
whose errors differ by more than their ages explain) and so that a GEO orbit is sampled over
a whole revolution, averaging its once-per-revolution errors.

The difference, test minus truth, is expressed in the truth's radial / in-track / cross-track
frame (radial along the position, cross-track along the orbit normal), as a time offset (the
difference along the truth's velocity divided by its speed: positive when the test set has the
object ahead, arriving early) and as the in-track angle seen from the Earth's centre. The age of
a measurement is its time minus the older set's epoch; the spread of epochs in each snapshot
gives the range of ages.

Fit. For each orbit class (:func:`orbit_classes` of the older sets) and component the
measurements are sorted by age into bins of equal count, and each bin's robust scale is
``1.4826 * median(|x|)``: about zero rather than the bin's median, because the bias is part of
the error and its sign follows the space weather of the week measured, which a model used in
another week cannot know. The law ``sigma^2 = s0^2 + s1^2 age^2 + s2^2 age^4`` is linear in the
squared coefficients, so it is fitted to the bins' squared scales by non-negative least squares,
each bin weighted by the inverse of its standard error ``2 * 1.166 * sigma^2 / sqrt(objects in
the bin)`` (the median of |x| over n Gaussian draws has a relative standard error of
1.166/sqrt(n); the samples of one object are too close in time to count apart), with sigma from
the law itself, refitted until it settles. Each fit is a convex problem with one solution, so
the whole is deterministic. Two snapshots four days apart measure ages of about three to five
days: there the law is pinned down, while how it splits the growth between its terms, and so
its value at one day, is much less certain: :meth:`ComponentFit.sigma_range` gives the spread
of the laws that fit the bins about as well. The tail fraction is the share of measurements
beyond 5 fitted sigmas.

A class of fewer than :data:`MIN_OBJECTS_FITTED` objects cannot show its own growth: it takes
the growth of its basis class (:data:`~orbitlink.tracking.element_error.BASIS_CLASS`) scaled by
the robust scale of its measurements in units of the basis's sigma (``"scaled"``), or, below
:data:`MIN_OBJECTS_SCALED` objects, the basis's law as it is (``"copied"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .catalogue import Catalogue
from .constants import ARCSEC_PER_DEG, SECONDS_PER_DAY
from .element_error import (
    BASIS_CLASS,
    COMPONENTS,
    ORBIT_CLASSES,
    TAIL_SIGMA,
    ElementErrorModel,
    growth_sigma,
    orbit_classes,
)
from .times import datetime_from_unix, jd_from_unix
from .types import Array, BoolArray, IntArray

__all__ = [
    "EVALUATION_OFFSETS_DAYS",
    "MIN_OBJECTS_FITTED",
    "MIN_OBJECTS_SCALED",
    "AgeBins",
    "ClassFit",
    "ComponentFit",
    "ElementDifferences",
    "FitDiagnostics",
    "fit_element_error_model",
    "fit_growth_law",
    "format_fit_report",
    "measure_element_differences",
    "scale_growth_law",
]

#: When the difference is measured, in days from the newer (truth) set's epoch: hourly, +-0.5 d.
EVALUATION_OFFSETS_DAYS: tuple[float, ...] = tuple(np.arange(-12, 13) / 24.0)
#: A class needs this many objects to be fitted on its own, and this many to be scaled.
MIN_OBJECTS_FITTED = 50
MIN_OBJECTS_SCALED = 10
#: Age bins per class: one per this many objects, between MIN_BINS and MAX_BINS.
OBJECTS_PER_BIN = 40
MIN_BINS = 4
MAX_BINS = 12
#: A Gaussian's sigma from the median of |x|, and that median's relative standard error
#: times sqrt(n).
MAD_TO_SIGMA = 1.4826
MAD_RELATIVE_ERROR = 1.166
#: At most this many fits per law, each weighted by the one before (see _fit_terms).
REWEIGHTINGS = 20
#: Ages (days) the report quotes the laws at.
REPORT_AGES_DAYS = (1.0, 4.0, 7.0)


@dataclass(frozen=True)
class ElementDifferences:
    """Test-minus-truth differences of the objects in both snapshots.

    Per-object arrays are ``(N,)``; measurements ``(N, T)`` for the ``T`` offsets;
    ``values[k]`` is component ``COMPONENTS[k]``. ``valid`` is False where sgp4 failed for
    either set (a decayed orbit). ``identical`` counts objects left out because both snapshots
    hold the same element set (no independent truth); ``only_older`` / ``only_newer`` those in
    one snapshot only (decays, launches, catalogue changes).
    """

    norad_ids: IntArray
    class_codes: IntArray
    older_epoch_unix_s: Array
    newer_epoch_unix_s: Array
    offset_days: Array
    age_days: Array
    values: Array  # (K, N, T)
    valid: BoolArray
    identical: int
    only_older: int
    only_newer: int

    def __len__(self) -> int:
        return len(self.norad_ids)

    def component(self, name: str) -> Array:
        """The ``(N, T)`` measurements of one component."""
        return self.values[COMPONENTS.index(name)]


@dataclass(frozen=True)
class AgeBins:
    """The robust scale of one component in the age bins of one class, and the fitted law."""

    age_days: Array  # median age of each bin's measurements
    samples: IntArray
    objects: IntArray  # distinct objects in each bin
    sigma: Array  # 1.4826 * median(|x|)
    median: Array  # the bias, reported but not modelled
    fitted: Array  # the law at age_days

    @property
    def residual(self) -> Array:
        """Relative misfit of each bin, ``sigma / fitted - 1``."""
        return self.sigma / self.fitted - 1.0


@dataclass(frozen=True)
class ComponentFit:
    """The law of one component of one class, and how well it fits.

    ``alternatives`` holds the coefficients of every law made of a subset of the three terms
    that fits the bins about as well as the best (chi-square within ``max(1, chi2_per_dof)``
    of it), the best included: their spread at ages outside the measured range is how far the
    data leave the extrapolation open. A scaled law has only itself.
    """

    coefficients: Array  # (s0, s1, s2)
    alternatives: Array  # (n, 3)
    chi2_per_dof: float
    bins: AgeBins
    tail_fraction: float  # beyond TAIL_SIGMA
    tail_fraction_3sigma: float

    def sigma(self, age_days: float | Array) -> Array:
        """The law at ``age_days``."""
        return growth_sigma(self.coefficients, age_days)

    def sigma_range(self, age_days: float | Array) -> tuple[Array, Array]:
        """Lowest and highest sigma at ``age_days`` among the :attr:`alternatives`."""
        age = np.asarray(age_days, dtype=float)
        values = growth_sigma(self.alternatives[:, None, :], age.reshape(1, -1))
        return values.min(axis=0).reshape(age.shape), values.max(axis=0).reshape(age.shape)


@dataclass(frozen=True)
class ClassFit:
    """One orbit class: what it was fitted on and how (see :class:`ElementErrorModel`)."""

    name: str
    objects: int
    samples: int
    age_range_days: Array  # central 90% of the measured ages
    method: str
    basis: str | None
    components: Mapping[str, ComponentFit]  # empty for a copied law


@dataclass(frozen=True)
class FitDiagnostics:
    """Everything the fit measured: the differences, and each class's bins and fit."""

    differences: ElementDifferences
    older_epoch_unix_s: Array  # every epoch of each snapshot, for its spread
    newer_epoch_unix_s: Array
    classes: Mapping[str, ClassFit]
    source: Mapping[str, str]


# -------------------------------------------------------------------------- measurement


def _propagate(satrecs: Sequence, time_unix_s: Array) -> tuple[Array, Array, BoolArray]:
    """TEME positions and velocities (km, km/s) of each satrec at its own row of times.

    ``SatrecArray`` evaluates every object at the same times; here each object has its own
    (its newer epoch plus the offsets), so each is propagated by its own ``sgp4_array`` call,
    vectorised over its times. This runs once per fit (under a second for 12,000 objects).
    """
    jd, fraction = jd_from_unix(time_unix_s)
    position = np.empty((*time_unix_s.shape, 3))
    velocity = np.empty((*time_unix_s.shape, 3))
    error = np.empty(time_unix_s.shape, dtype=np.intp)
    for i, satrec in enumerate(satrecs):
        error[i], position[i], velocity[i] = satrec.sgp4_array(jd[i], fraction[i])
    return position, velocity, error == 0


def measure_element_differences(
    older: Catalogue,
    newer: Catalogue,
    offsets_days: Sequence[float] = EVALUATION_OFFSETS_DAYS,
) -> ElementDifferences:
    """Propagate the objects of both snapshots from both sets and difference them.

    See the module docstring for the frame and the sign conventions.
    """
    offsets = np.asarray(offsets_days, dtype=float)
    if offsets.ndim != 1 or offsets.size == 0:
        raise ValueError("offsets_days must be a non-empty sequence")
    common = np.intersect1d(older.norad_ids, newer.norad_ids)
    i_old, i_new = older.index_of(common), newer.index_of(common)
    later = newer.epoch_unix_s[i_new] > older.epoch_unix_s[i_old]
    ids, i_old, i_new = common[later], i_old[later], i_new[later]

    old_epoch = older.epoch_unix_s[i_old]
    new_epoch = newer.epoch_unix_s[i_new]
    times = new_epoch[:, None] + offsets[None, :] * SECONDS_PER_DAY
    r_test, _, ok_test = _propagate([older.satrecs[i] for i in i_old], times)
    r_true, v_true, ok_true = _propagate([newer.satrecs[i] for i in i_new], times)

    radius = np.linalg.norm(r_true, axis=-1)
    radial_unit = r_true / radius[..., None]
    normal = np.cross(r_true, v_true)
    cross_unit = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    in_track_unit = np.cross(cross_unit, radial_unit)
    delta = r_test - r_true
    in_track = np.sum(delta * in_track_unit, axis=-1)
    values = np.stack(
        [
            np.sum(delta * radial_unit, axis=-1),
            in_track,
            np.sum(delta * cross_unit, axis=-1),
            np.sum(delta * v_true, axis=-1) / np.sum(v_true * v_true, axis=-1),
            np.degrees(np.arctan2(in_track, radius)) * ARCSEC_PER_DEG,
        ]
    )
    return ElementDifferences(
        norad_ids=ids,
        class_codes=orbit_classes(older)[i_old],
        older_epoch_unix_s=old_epoch,
        newer_epoch_unix_s=new_epoch,
        offset_days=offsets,
        age_days=(times - old_epoch[:, None]) / SECONDS_PER_DAY,
        values=values,
        valid=ok_test & ok_true,
        identical=int(np.count_nonzero(~later)),
        only_older=len(older) - len(common),
        only_newer=len(newer) - len(common),
    )


# ----------------------------------------------------------------------------------- fit


def _bin_scales(
    age_days: Array, values: Array, object_index: IntArray, n_bins: int
) -> tuple[Array, IntArray, IntArray, Array, Array]:
    """Median age, samples, distinct objects, robust scale and median of each age bin."""
    order = np.argsort(age_days, kind="stable")
    bins = [chunk for chunk in np.array_split(order, n_bins) if chunk.size]
    return (
        np.array([np.median(age_days[b]) for b in bins]),
        np.array([b.size for b in bins], dtype=np.intp),
        np.array([np.unique(object_index[b]).size for b in bins], dtype=np.intp),
        np.array([MAD_TO_SIGMA * np.median(np.abs(values[b])) for b in bins]),
        np.array([np.median(values[b]) for b in bins]),
    )


def _tails(coefficients: Array, age_days: Array, values: Array) -> tuple[float, float]:
    limit = growth_sigma(coefficients, age_days)
    beyond = np.abs(values) / limit
    return float(np.mean(beyond > TAIL_SIGMA)), float(np.mean(beyond > 3.0))


def fit_growth_law(
    age_days: Array, values: Array, object_index: IntArray, n_bins: int
) -> ComponentFit:
    """Fit ``sigma(age)`` to the robust scales of ``values`` in ``n_bins`` age bins.

    ``age_days``, ``values`` and ``object_index`` are flat arrays over the measurements;
    ``object_index`` tells which measurements come from one object (see the module docstring
    for the binning, the weights and the fit).
    """
    ages, samples, objects, sigma, median = _bin_scales(age_days, values, object_index, n_bins)
    laws = [_fit_terms(ages, sigma, objects, terms) for terms in _TERM_SUBSETS]
    coefficients, chi2 = laws[0]
    dof = max(len(ages) - int(np.count_nonzero(coefficients)), 1)
    tolerance = max(1.0, chi2 / dof)
    alternatives = np.array([law for law, other in laws if other <= chi2 + tolerance])
    tail, tail_3sigma = _tails(coefficients, age_days, values)
    return ComponentFit(
        coefficients=coefficients,
        alternatives=alternatives,
        chi2_per_dof=chi2 / dof,
        bins=AgeBins(ages, samples, objects, sigma, median, growth_sigma(coefficients, ages)),
        tail_fraction=tail,
        tail_fraction_3sigma=tail_3sigma,
    )


#: The law's terms (s0, s1, s2) in use: all three first, then every smaller subset.
_TERM_SUBSETS = ((0, 1, 2), (0, 1), (0, 2), (1, 2), (0,), (1,), (2,))


def _fit_terms(
    ages: Array, sigma: Array, objects: IntArray, terms: tuple[int, ...]
) -> tuple[Array, float]:
    """Non-negative weighted least squares of ``sigma^2`` on the chosen terms of the law;
    returns the coefficients (zero for unused terms) and the chi-square.

    A bin's standard error is proportional to its true scale, which the law estimates better
    than the bin itself: weighting by the measured scales would favour the bins that came out
    low. So the weights start from the bins and are then taken from the law, until it settles.
    """
    design = np.stack([np.ones_like(ages), ages**2, ages**4], axis=1)[:, terms]
    tiny = np.finfo(float).tiny
    model_sq = sigma**2
    for _ in range(REWEIGHTINGS):
        weight = np.sqrt(objects) / (2.0 * MAD_RELATIVE_ERROR * np.maximum(model_sq, tiny))
        weighted = design * weight[:, None]
        scale = np.maximum(np.max(weighted, axis=0), tiny)  # unit columns, for conditioning
        solution, _ = nnls(weighted / scale, sigma**2 * weight)
        squared = solution / scale
        previous, model_sq = model_sq, design @ squared
        if np.allclose(model_sq, previous, rtol=1e-9, atol=0):
            break
    chi2 = float(np.sum(((design @ squared - sigma**2) * weight) ** 2))
    full = np.zeros(3)
    full[list(terms)] = squared
    return np.sqrt(full), chi2


def scale_growth_law(
    age_days: Array, values: Array, object_index: IntArray, basis_coefficients: Array
) -> ComponentFit:
    """The basis law scaled to ``values``: by the robust scale of ``values / basis sigma``.

    The bins (:data:`MIN_BINS` of them) show how the scaled law meets the measurements.
    """
    factor = MAD_TO_SIGMA * np.median(np.abs(values) / growth_sigma(basis_coefficients, age_days))
    coefficients = np.asarray(basis_coefficients, dtype=float) * factor
    ages, samples, objects, sigma, median = _bin_scales(age_days, values, object_index, MIN_BINS)
    fitted = growth_sigma(coefficients, ages)
    standard_error = 2.0 * MAD_RELATIVE_ERROR * np.maximum(fitted**2, np.finfo(float).tiny)
    relative = (sigma**2 - fitted**2) * np.sqrt(objects) / standard_error
    tail, tail_3sigma = _tails(coefficients, age_days, values)
    return ComponentFit(
        coefficients=coefficients,
        alternatives=coefficients[None, :],
        chi2_per_dof=float(np.sum(relative**2)) / max(len(ages) - 1, 1),
        bins=AgeBins(ages, samples, objects, sigma, median, fitted),
        tail_fraction=tail,
        tail_fraction_3sigma=tail_3sigma,
    )


def _basis_of(name: str, fits: Mapping[str, ClassFit | None]) -> str:
    """The nearest class up ``name``'s basis chain with a fitted or scaled law."""
    current = BASIS_CLASS[name]
    while current is not None and (fits[current] is None or not fits[current].components):
        current = BASIS_CLASS[current]
    if current is None:
        raise ValueError(
            f"too few objects to fit class {name!r} or any class of its basis chain "
            f"(one needs {MIN_OBJECTS_FITTED})"
        )
    return current


def fit_element_error_model(
    older: Catalogue,
    newer: Catalogue,
    *,
    offsets_days: Sequence[float] = EVALUATION_OFFSETS_DAYS,
    source: Mapping[str, str] | None = None,
) -> tuple[ElementErrorModel, FitDiagnostics]:
    """Fit the error model with ``older`` as the sets under test and ``newer`` as the truth.

    ``source`` (e.g. the snapshots' names) goes into the model's table, with the snapshots'
    median epochs. Returns the model and what it was fitted on.
    """
    differences = measure_element_differences(older, newer, offsets_days)
    n_times = len(differences.offset_days)
    object_index = np.repeat(np.arange(len(differences)), n_times).reshape(-1, n_times)

    def measured(code: int) -> tuple[BoolArray, int]:
        mask = (differences.class_codes == code)[:, None] & differences.valid
        return mask, int(np.count_nonzero(mask.any(axis=1)))

    # Fitted classes first, then the others along their basis chains, nearest the root first
    # (a scaled class scales the finished law of its basis).
    fits: dict[str, ClassFit | None] = dict.fromkeys(ORBIT_CLASSES)
    chain_length = {name: _chain_length(name) for name in ORBIT_CLASSES}
    for name in ORBIT_CLASSES:
        mask, objects = measured(ORBIT_CLASSES.index(name))
        if objects >= MIN_OBJECTS_FITTED:
            fits[name] = _fit_class(name, differences, object_index, mask, objects)
    for name in sorted(ORBIT_CLASSES, key=lambda name: chain_length[name]):
        if fits[name] is None:
            mask, objects = measured(ORBIT_CLASSES.index(name))
            basis = fits[_basis_of(name, fits)]
            fits[name] = _borrow_class(name, basis, differences, object_index, mask, objects)
    classes = {name: fits[name] for name in ORBIT_CLASSES}

    shape = (len(ORBIT_CLASSES), len(COMPONENTS))
    coefficients = np.zeros((*shape, 3))
    tail = np.zeros(shape)
    for c, name in enumerate(ORBIT_CLASSES):
        law = classes[name] if classes[name].method != "copied" else classes[classes[name].basis]
        for k, component in enumerate(COMPONENTS):
            coefficients[c, k] = law.components[component].coefficients
            tail[c, k] = law.components[component].tail_fraction
    described = {
        **dict(source or {}),
        "older_median_epoch": _iso(float(np.median(older.epoch_unix_s))),
        "newer_median_epoch": _iso(float(np.median(newer.epoch_unix_s))),
        "pairs": str(len(differences)),
    }
    model = ElementErrorModel(
        coefficients=coefficients,
        tail_fraction=tail,
        objects=np.array([classes[name].objects for name in ORBIT_CLASSES], dtype=np.intp),
        age_range_days=np.array([classes[name].age_range_days for name in ORBIT_CLASSES]),
        method=tuple(classes[name].method for name in ORBIT_CLASSES),
        basis=tuple(classes[name].basis for name in ORBIT_CLASSES),
        source=described,
    )
    diagnostics = FitDiagnostics(
        differences, older.epoch_unix_s, newer.epoch_unix_s, classes, described
    )
    return model, diagnostics


def _chain_length(name: str) -> int:
    length, current = 0, BASIS_CLASS[name]
    while current is not None:
        length, current = length + 1, BASIS_CLASS[current]
    return length


def _age_range(differences: ElementDifferences, mask: BoolArray) -> Array:
    ages = differences.age_days[mask]
    return np.percentile(ages, [5.0, 95.0]) if ages.size else np.full(2, np.nan)


def _fit_class(
    name: str,
    differences: ElementDifferences,
    object_index: IntArray,
    mask: BoolArray,
    objects: int,
) -> ClassFit:
    n_bins = int(np.clip(objects // OBJECTS_PER_BIN, MIN_BINS, MAX_BINS))
    ages = differences.age_days[mask]
    components = {
        component: fit_growth_law(ages, differences.values[k][mask], object_index[mask], n_bins)
        for k, component in enumerate(COMPONENTS)
    }
    return ClassFit(
        name, objects, ages.size, _age_range(differences, mask), "fitted", None, components
    )


def _borrow_class(
    name: str,
    basis: ClassFit,
    differences: ElementDifferences,
    object_index: IntArray,
    mask: BoolArray,
    objects: int,
) -> ClassFit:
    ages = differences.age_days[mask]
    if objects < MIN_OBJECTS_SCALED:
        return ClassFit(
            name, objects, ages.size, _age_range(differences, mask), "copied", basis.name, {}
        )
    components = {
        component: scale_growth_law(
            ages,
            differences.values[k][mask],
            object_index[mask],
            basis.components[component].coefficients,
        )
        for k, component in enumerate(COMPONENTS)
    }
    return ClassFit(
        name, objects, ages.size, _age_range(differences, mask), "scaled", basis.name, components
    )


def _iso(time_unix_s: float) -> str:
    return datetime_from_unix(time_unix_s).strftime("%Y-%m-%dT%H:%M:%SZ")


# -------------------------------------------------------------------------------- report

COMPONENT_TITLES = {
    "radial_km": "radial km",
    "in_track_km": "in-track km",
    "cross_track_km": "cross-track km",
    "timing_s": "timing s",
    "in_track_arcsec": "in-track arcsec",
}


def _number(value: float) -> str:
    """Three significant digits, without exponents."""
    if not np.isfinite(value):
        return "-"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _percent(value: float) -> str:
    return f"{100.0 * value:.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _spread(values: Array) -> list[str]:
    return [_number(x) for x in np.percentile(values, [0.0, 5.0, 50.0, 95.0, 100.0])]


def _date_spread(epochs_unix_s: Array) -> list[str]:
    quantiles = np.percentile(epochs_unix_s, [0.0, 5.0, 50.0, 95.0, 100.0])
    return [datetime_from_unix(x).strftime("%Y-%m-%d %H:%M") for x in quantiles]


def format_fit_report(model: ElementErrorModel, diagnostics: FitDiagnostics) -> str:
    """The fit as Markdown: snapshots and ages, sigmas at 1/4/7 days, tails, laws, bins."""
    d = diagnostics.differences
    source = diagnostics.source
    ages = (d.newer_epoch_unix_s - d.older_epoch_unix_s) / SECONDS_PER_DAY
    offsets = d.offset_days
    lines = [
        f"Older snapshot (under test): {source.get('older', '?')}, "
        f"{len(diagnostics.older_epoch_unix_s)} element sets; newer (truth): "
        f"{source.get('newer', '?')}, {len(diagnostics.newer_epoch_unix_s)}.",
        f"Objects measured: {len(d)} ({d.identical} with the same element set in both left "
        f"out; {d.only_older} only in the older, {d.only_newer} only in the newer), each at "
        f"{len(offsets)} times from {offsets[0]:+.2f} to {offsets[-1]:+.2f} d around its newer "
        f"epoch; {int(np.count_nonzero(~d.valid))} propagations failed.",
        "",
        *_table(
            ["epochs, UTC", "min", "5%", "50%", "95%", "max"],
            [
                ["older", *_date_spread(diagnostics.older_epoch_unix_s)],
                ["newer", *_date_spread(diagnostics.newer_epoch_unix_s)],
            ],
        ),
        "",
        *_table(
            ["days", "min", "5%", "50%", "95%", "max"],
            [
                ["newer minus older epoch", *_spread(ages)],
                ["age measured", *_spread(d.age_days[d.valid])],
            ],
        ),
        "",
        "### 1-sigma at " + " / ".join(f"{a:g}" for a in REPORT_AGES_DAYS) + " days",
        "",
    ]
    rows = []
    for c, name in enumerate(ORBIT_CLASSES):
        law = model.method[c] + (f" ({model.basis[c]})" if model.basis[c] else "")
        low, high = model.age_range_days[c]
        measured = f"{low:.1f}-{high:.1f}" if np.isfinite(low) else "-"
        cells = [
            " / ".join(_number(x) for x in model.sigma(component, c, REPORT_AGES_DAYS))
            for component in COMPONENTS
        ]
        rows.append([name, str(model.objects[c]), law, measured, *cells])
    header = ["class", "objects", "law", "ages d", *COMPONENT_TITLES.values()]
    lines += [*_table(header, rows), ""]

    lines += [f"### Share beyond {TAIL_SIGMA:g} sigma (beyond 3 sigma)", ""]
    rows = []
    for c, name in enumerate(ORBIT_CLASSES):
        fit = diagnostics.classes[name]
        if not fit.components:
            rows.append([name] + [f"{_percent(x)} (copied)" for x in model.tail_fraction[c]])
            continue
        rows.append(
            [name]
            + [
                f"{_percent(fit.components[k].tail_fraction)} "
                f"({_percent(fit.components[k].tail_fraction_3sigma)})"
                for k in COMPONENTS
            ]
        )
    lines += [*_table(["class", *COMPONENT_TITLES.values()], rows), ""]

    lines += [
        "### The laws: sigma = sqrt(s0^2 + (s1 age)^2 + (s2 age^2)^2)",
        "",
        "The ranges are those of the laws of fewer terms that fit the bins about as well.",
        "",
    ]
    rows = []
    for name, fit in diagnostics.classes.items():
        for component, law in fit.components.items():
            low, high = law.sigma_range(np.array([REPORT_AGES_DAYS[0], REPORT_AGES_DAYS[-1]]))
            ranges = [f"{_number(a)}-{_number(b)}" for a, b in zip(low, high)]
            if fit.method == "scaled":  # the basis's shape: no range of its own
                ranges = ["-", "-"]
            rows.append(
                [
                    name,
                    COMPONENT_TITLES[component],
                    *[_number(x) for x in law.coefficients],
                    f"{law.chi2_per_dof:.2f}",
                    *ranges,
                ]
            )
    header = ["class", "component", "s0", "s1 /d", "s2 /d^2", "chi2/dof"]
    header += [f"range at {REPORT_AGES_DAYS[0]:g} d", f"range at {REPORT_AGES_DAYS[-1]:g} d"]
    lines += [*_table(header, rows), ""]

    lines += ["### Bins: robust sigma (its misfit to the law)", ""]
    for name, fit in diagnostics.classes.items():
        if not fit.components:
            lines += [f"{name}: {fit.objects} objects, law copied from {fit.basis}.", ""]
            continue
        first = fit.components[COMPONENTS[0]].bins
        rows = []
        for b in range(len(first.age_days)):
            cells = [
                f"{_number(law.bins.sigma[b])} ({100.0 * law.bins.residual[b]:+.0f}%)"
                for law in fit.components.values()
            ]
            bias = fit.components["in_track_km"].bins.median[b]
            rows.append([f"{first.age_days[b]:.2f}", str(first.objects[b]), *cells, _number(bias)])
        header = ["age d", "objects", *COMPONENT_TITLES.values(), "in-track median km"]
        lines += [f"{name} ({fit.method}, {fit.objects} objects):", "", *_table(header, rows), ""]
    return "\n".join(lines).rstrip() + "\n"
