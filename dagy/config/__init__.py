"""Local paths, config.yaml profiles and credentials."""
