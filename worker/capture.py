"""Packet captures on a node interface's cable end in the fabric, bounded by time and size."""

from __future__ import annotations

import io
import os
import subprocess
from typing import cast

from .errors import EngineError
from .live.controls import fabric_of


def capture(lab: str, cable: str, seconds: int, max_bytes: int, installation: str | None = None) -> bytes:
    """Capture what crosses a cable (its fabric end) for up to `seconds`; returns pcap bytes."""
    command = [
        "ip", "netns", "exec", os.path.basename(fabric_of(lab, installation)),
        "timeout", "--signal=INT", str(seconds),
        "tcpdump", "-i", cable, "-U", "-s", "262144", "-w", "-",
    ]  # fmt: skip
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise EngineError(f"cannot capture: {exc}") from None
    out, errors = cast(io.BufferedReader, proc.stdout), cast(io.BufferedReader, proc.stderr)
    data = bytearray()
    while len(data) < max_bytes:
        chunk = out.read1(65536)
        if not chunk:
            break
        data += chunk
    if len(data) >= max_bytes:
        proc.terminate()
    proc.wait(timeout=seconds + 10)
    err = errors.read().decode(errors="replace")
    if not data:
        raise EngineError(f"tcpdump: {err.strip().splitlines()[-1] if err.strip() else 'no output'}")
    return bytes(data[:max_bytes])
