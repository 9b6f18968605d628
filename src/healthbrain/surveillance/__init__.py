"""Infectious-disease multi-point early warning (传染病多点触发预警): feeds, series, detectors,
alerts and the response workflow."""
