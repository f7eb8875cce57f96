"""Compatibility tests: the same snippets run through webknossos and webknossos_like."""
