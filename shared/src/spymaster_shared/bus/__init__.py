"""The message bus contract: subjects, message types, framing, streams and buckets.

See ``docs/protocol.md``. Services import from here; nothing else names a subject.
"""
