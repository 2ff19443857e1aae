"""Spymaster shared core: what several services must compute identically."""
