"""Workflows: compose readers, engine, measures and edits for a region (one module each)."""
