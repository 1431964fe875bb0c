"""Live state of labs: the Redis-held snapshot, sequence numbers, and publishing to groups."""
