"""Residents: the master patient index, households and key populations."""
