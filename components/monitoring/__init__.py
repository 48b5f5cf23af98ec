"""components.monitoring."""
