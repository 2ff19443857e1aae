"""The spymaster command."""
