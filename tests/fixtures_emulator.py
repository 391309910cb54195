"""Fixtures for the SP-API emulator (filled in with the emulator)."""
