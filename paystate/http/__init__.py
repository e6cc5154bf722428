"""The Tornado front: parse, validate, call the engine bridge, render. No SQL, no Redis."""
