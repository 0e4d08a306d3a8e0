"""orbitlink's tracking core: frames of optical detections to tracks to catalogue correlation.

Pure computation over numpy arrays: no Kafka, no asyncio. The stream worker (``stream``) and the
offline replay both drive :class:`tracking.pipeline.Pipeline`.
"""
