"""pytest plugin: fixtures for testing code that integrates with Paystate (see the README)."""
