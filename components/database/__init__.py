"""components.database."""
