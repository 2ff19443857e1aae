"""spymaster replay."""
