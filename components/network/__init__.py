"""components.network."""
