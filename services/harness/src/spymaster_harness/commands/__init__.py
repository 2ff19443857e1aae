"""harness sub-commands, one module each; each adds itself to ``spymaster_harness.cli.app``."""
