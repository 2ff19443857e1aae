"""spymaster scorer."""
