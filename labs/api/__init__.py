"""The REST API over labs and their topology."""
