"""Tests for webknossos_like.geometry."""
