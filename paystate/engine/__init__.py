"""The engine: the only code that touches PostgreSQL, Redis, threads and timers.

Its public face for a front is ``paystate.engine.bridge.Engine``.
"""
