"""The engine's own error types; SDK and kernel errors are translated into these."""


class EngineError(Exception):
    """A converge could not go on; the message is for people."""


class ImageMissing(EngineError):
    """A spec names images this lab host does not have."""


class EngineUnreachable(EngineError):
    """The container engine went away in the middle of the work (a restart, a crash)."""


class Stopped(EngineError):
    """The caller asked the work to stop (its deadline passed, or a destroy came in)."""
