"""spymaster harness."""
