"""The lab host engine: converges a host to a spec; imports nothing from Django."""
