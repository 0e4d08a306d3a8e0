"""Orbits from angles: initial orbit determination, least-squares fits, TLE and OMM output.

The modules, in the order a new object goes through them:

* :mod:`.angles`: :class:`AngleObservations` of one object (one track or many) and the
  astrometric model that predicts them from an orbit.
* :mod:`.iod`: Gauss's method through three sightings, and its iterated refinement.
* :mod:`.admissible`: the attributable of a short arc, and the admissible region of range
  and range rate when the arc is too short to give an orbit.
* :mod:`.determine`: :func:`determine_orbit`, one track to an orbit with its covariance, or
  to the admissible region with the reason.
* :mod:`.fit`: :func:`fit_orbit`, batch least squares over any number of observations.
* :mod:`.tle`: SGP4 mean elements fitted to an orbit or to the observations; TLE and OMM.
* :mod:`.elements`, :mod:`.propagate`, :mod:`.leastsq`: the tools underneath.

See ``docs/orbits.md``.
"""
