"""Shared fixtures live in plugin modules, one per area, so each area owns its own file."""

pytest_plugins = ["fixtures_emulator", "fixtures_db", "fixtures_sync"]
pytest_plugins += ["fixtures_sqs"]
