"""Tests of `wkl serve` / `wkl view` (webknossos_like.serve)."""
