"""components.platform."""
