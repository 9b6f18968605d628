"""healthbrain — 健康大脑+, the regional health platform of a district health bureau."""

__version__ = "0.1.0"
