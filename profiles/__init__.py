"""TOML presets: codebases, bundled tasks, demo sessions (package data)."""
