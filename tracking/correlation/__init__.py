"""Correlating tracks with the element-set catalogue: which known object is each track?

One call, :func:`correlate_tracks`, takes the confirmed tracks of one sensor at one frame time and
a :class:`~orbitlink.tracking.predict.SkyPredictor` of the catalogue, and returns one
:class:`~orbitlink.tracking.models.Association` per track: a NORAD id with residuals, a score
and a confidence, or an uncorrelated track (UCT).

The measures are the ones visual observers and ``stvid`` use to identify a satellite streak,
each scaled by its uncertainty (see ``docs/correlation.md``):

* **along-track time offset** ``along_track_s``: the shift along the object's predicted path
  that best explains the track position. Element-set error is mostly a timing error (drag, a
  manoeuvre), which grows with the element set's age, so it is *searched* over a window that
  grows with age rather than gated tightly. Positive means the object is late.
* **cross-track offset** ``cross_track_arcsec``: the distance of the track from the predicted
  path at that point, positive to the left of the direction of motion. Element sets are good
  across their path (kilometres after a week), so this is gated tightly.
* **direction of motion** ``direction_residual_deg`` and **angular speed**
  ``rate_residual`` (fractional) of the track against the prediction at that point.

For near-stationary objects a time offset describes the error badly: a GEO object moves
about 18 arcsec/s on its orbit, its element-set error is tens of arc-seconds in any direction
rather than a timing error, and the direction of its apparent motion can be mostly the sensor's
own. Below :attr:`CorrelationSettings.slow_rate_deg_s` of own angular motion the offset is gated
as an angle in arc-seconds instead, no time search is made and ``along_track_s`` is null.

The stages, one module each, pass frozen dataclasses (nothing loops per track-object pair):

1. ``tracks``: the frame's tracks validated and stacked (:class:`~.tracks.FrameTracks`).
2. ``objects``: the whole catalogue predicted once at the frame time
   (:meth:`SkyPredictor.at <orbitlink.tracking.predict.SkyPredictor.at>`); the objects that
   can reach the sky above the site (and the field of view, if given) within their search
   window, with their motion, search window and reach (:class:`~.objects.ObjectStates`). The
   search window and positional gate come from ``error_model``: element-set sigmas that grow
   with age.
3. ``coarse``: candidate pairs by dense (tracks x objects) products, a chunk of tracks at a
   time: fast movers by the pole of their great-circle path (the track must lie in a band
   around it), their speed within ``coarse_speed_ratio`` of the track's, and the track within
   the distance they can reach within their window; slow movers by that distance alone
   (:class:`~.coarse.CoarsePairs`).
4. ``path``: the fast candidates predicted on a small grid of times around the frame time in
   one call (:meth:`SkyPredictor.paths <orbitlink.tracking.predict.SkyPredictor.paths>`),
   their topocentric vectors moved to the sensor's position at the frame time (the object is
   early or late, the sensor is where it is) and interpolated with cubic splines, and the
   along-track offset of every pair refined with a few batched Gauss-Newton steps on the
   spline (:class:`~.path.PathPoints`).
5. ``measures``: each pair's four measures over their total sigma, gated
   (:class:`CandidatePairs`, also returned by :func:`measure_candidates`).
6. ``assign``: gated pairs assigned globally (each object claims at most one track, each
   track may instead be a UCT) by one sparse minimum-weight bipartite matching.
7. ``records``: the :class:`~orbitlink.tracking.models.Association` records, with
   confidence, runner-up and ambiguity.

``settings`` holds :class:`CorrelationSettings`; ``correlator`` the two entry points.
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
