"""spymaster engine."""
