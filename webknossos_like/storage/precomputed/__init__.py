"""Neuroglancer precomputed volumes."""
