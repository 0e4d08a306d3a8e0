"""Correlating tracks with the element-set catalogue: which known object is each track?

The pipeline calls :func:`identify` once per frame and sensor: every track that took a
detection is judged on its whole arc against each candidate object and against the hypothesis
that it is an object not in the catalogue (UCT), with the element sets' error from the model
fitted on real catalogue snapshots; the evidence is kept from frame to frame
(:class:`ArcEvidence`), the frame's tracks are assigned jointly, and one object is one track
across frames (:mod:`.claims`). :func:`correlate_tracks` is the single-frame form: each
track's filtered state stands for its arc. Both return one
:class:`~orbitlink.tracking.models.Association` per track: a NORAD id with residuals, a score,
a confidence and a runner-up, or a UCT (see ``docs/correlation.md``).

The measures are the ones visual observers and ``stvid`` use to identify a satellite streak:

* **along-track time offset** ``along_track_s``: the shift along the object's predicted path
  that best explains the arc. Element-set error is mostly a timing error (drag, a
  manoeuvre), which grows with the element set's age, so it is *searched* over a window that
  grows with age. Positive means the object is late.
* **cross-track offset** ``cross_track_arcsec``: the distance of the track from the predicted
  path, positive to the left of the direction of motion. Element sets are good across their
  path (about a kilometre after a week), so it is held tightly.
* **direction of motion** ``direction_residual_deg`` and **angular speed**
  ``rate_residual`` (fractional) of the track against the prediction at that point.

Near-stationary objects (below :attr:`CorrelationSettings.slow_rate_deg_s` of own angular
motion, GEO) get no time search: their along offset is a distance and ``along_track_s`` is
null.

The stages, one module each, pass frozen dataclasses (nothing loops per track-object pair):
``tracks`` (the frame's tracks stacked), ``error_model`` (each object's sigmas from the fitted
table), ``objects`` (the catalogue at the frame time: who can reach the sky, with window and
reach), ``coarse`` (candidate pairs within reach, by a k-d tree), ``arcs`` (detections against
candidate paths at any time), ``path`` and ``measures`` (a track state as evidence),
``evidence`` (running sums and the closed-form log-likelihood ratio), ``hypotheses`` (both
hypotheses' priors, the UCT density), ``scoring``, ``assign`` (the joint assignment),
``records`` (verdicts), ``claims`` (one object, one track across frames), ``identify`` (a frame
with the evidence kept between frames); ``settings`` holds :class:`CorrelationSettings`,
``correlator`` the single-frame entry points.
"""

from .correlator import correlate_tracks, measure_candidates
from .identify import ArcEvidence, Identification, identify
from .pairs import CandidatePairs
from .settings import CorrelationSettings

__all__ = [
    "ArcEvidence",
    "CandidatePairs",
    "CorrelationSettings",
    "Identification",
    "correlate_tracks",
    "identify",
    "measure_candidates",
]
