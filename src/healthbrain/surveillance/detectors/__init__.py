"""Outbreak detectors as pure functions over count arrays (no database, no ORM).

Every temporal detector takes the whole series (oldest first) and evaluates the time points from
``start`` on; see :mod:`healthbrain.surveillance.detectors.base` for the shared result type and
the error raised when the history is too short.
"""
