"""Pure domain: state machines as data, guards, effects and domain errors.

Nothing here performs I/O or reads a clock; a unit test scans the imports of this package.
"""
