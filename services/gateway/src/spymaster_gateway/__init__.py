"""spymaster gateway."""
