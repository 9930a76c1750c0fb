"""Built-in presets: the TOML files in this folder."""
