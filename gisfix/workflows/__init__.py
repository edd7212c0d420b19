"""Workflows: compose readers, engine, measures and edits for a region and its scenarios."""
