"""Tests of the chronic-disease domain."""
