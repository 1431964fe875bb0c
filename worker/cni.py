"""Running a CNI network configuration list with the reference plugins, as the CNI spec says a
runtime does: each plugin of the chain executed with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_PATH in its environment and its configuration (with the previous plugin's result
as `prevResult`, and the runtime's `runtimeConfig` for the capabilities it declares) on stdin;
ADD in order, CHECK in order, DEL in reverse.

Every plugin runs inside the emulated host's network namespace (`nsenter --net`), so the
bridges, veths, macvlans and iptables rules it makes live in that host, never in the lab host's
own stack. IPAM state (host-local's `dataDir`) and each container's result are kept per lab
under the engine's lock directory and removed with the lab.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topology.cni import check_config

from .errors import EngineError

PLUGIN_DIR = Path("/usr/lib/cni")
PLUGIN_SECONDS = 30
MAX_OUTPUT = 1024 * 1024
IFNAME = "eth0"


@dataclass(frozen=True)
class Attachment:
    """One container on one CNI network: where its plugins run and what they are told."""

    lab_dir: Path  # the lab's CNI state: IPAM and results
    container: str  # the app's name: its result file
    host: str  # the emulated host it runs on
    container_id: str  # the holder container's id (CNI_CONTAINERID)
    host_netns: str  # the emulated host's namespace: where the plugins run
    netns: str  # the container's namespace (CNI_NETNS)
    config: dict[str, Any]  # the configuration list
    port_mappings: tuple[Any, ...] = ()

    @property
    def result_path(self) -> Path:
        return self.lab_dir / f"{self.container}.json"


def available(plugin_dir: Path = PLUGIN_DIR) -> set[str]:
    """The plugin types this lab host has."""
    try:
        return {p.name for p in plugin_dir.iterdir() if os.access(p, os.X_OK)}
    except FileNotFoundError:
        return set()


def lab_dir(lock_dir: Path, lab: str) -> Path:
    return lock_dir / "cni" / lab


def _plugin_config(
    config: dict[str, Any],
    plugin: dict[str, Any],
    ipam_dir: Path,
    mappings: Sequence[dict[str, Any]],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """One plugin's stdin: the list's name and version, the plugin, its IPAM state kept per lab,
    the previous result and the runtime's arguments for the capabilities it declares."""
    conf = {"cniVersion": config.get("cniVersion", "1.0.0"), "name": config["name"], **copy.deepcopy(plugin)}
    if isinstance(conf.get("ipam"), dict) and conf["ipam"].get("type") == "host-local":
        conf["ipam"]["dataDir"] = str(ipam_dir)
    if previous is not None:
        conf["prevResult"] = previous
    if (conf.get("capabilities") or {}).get("portMappings") and mappings:
        conf["runtimeConfig"] = {"portMappings": list(mappings)}
    return conf


def _run(command: str, attachment: Attachment, conf: dict[str, Any]) -> dict[str, Any]:
    kind = conf.get("type", "")
    binary = PLUGIN_DIR / kind
    if not os.access(binary, os.X_OK):
        raise EngineError(
            f"this lab host has no CNI plugin '{kind}' ({binary}): install containernetworking-plugins"
        )
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": attachment.container_id,
        "CNI_NETNS": attachment.netns,
        "CNI_IFNAME": IFNAME,
        "CNI_PATH": str(PLUGIN_DIR),
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
    }
    try:
        done = subprocess.run(
            ["nsenter", f"--net={attachment.host_netns}", str(binary)],
            input=json.dumps(conf).encode(),
            env=env,
            capture_output=True,
            timeout=PLUGIN_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EngineError(f"CNI plugin {kind} ({command}) did not answer within {PLUGIN_SECONDS} s") from None
    out = done.stdout[:MAX_OUTPUT].decode(errors="replace").strip()
    if done.returncode != 0:
        raise EngineError(f"CNI plugin {kind} ({command}): {_error_text(out, done.stderr)}")
    if command != "ADD":
        return {}
    try:
        result: dict[str, Any] = json.loads(out)
        return result
    except json.JSONDecodeError:
        raise EngineError(f"CNI plugin {kind} (ADD) gave no result: {out[:200]!r}") from None


def _error_text(out: str, err: bytes) -> str:
    """A plugin's error (the spec's {code, msg, details}), else what it printed."""
    try:
        found = json.loads(out)
        details = f": {found['details']}" if found.get("details") else ""
        return f"{found.get('msg', '')}{details} (code {found.get('code')})"
    except (json.JSONDecodeError, AttributeError):
        return (out or err.decode(errors="replace")).strip()[:500] or "failed"


def add(attachment: Attachment) -> dict[str, Any]:
    """ADD through the chain; the last result is kept (with what it was made from) and returned.
    A chain that fails halfway is deleted again, whole, as the spec asks of a runtime, so nothing
    half-made stays (an address the failing plugin's IPAM took included)."""
    refused = check_config("config", attachment.config)  # again here: the plugins run as root
    if refused:
        raise EngineError(f"CNI network {attachment.config.get('name')}: {refused[0]}")
    ipam = attachment.lab_dir / "ipam"
    ipam.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] | None = None
    try:
        for plugin in attachment.config["plugins"]:
            conf = _plugin_config(attachment.config, plugin, ipam, attachment.port_mappings, result)
            result = _run("ADD", attachment, conf)
    except EngineError:
        _delete(attachment, attachment.config["plugins"], result)
        raise
    kept = {
        "config": attachment.config,
        "port_mappings": list(attachment.port_mappings),
        "host": attachment.host,
        "container_id": attachment.container_id,
        "result": result,
    }
    attachment.result_path.write_text(json.dumps(kept))
    return result or {}


def kept_for(attachment: Attachment) -> dict[str, Any] | None:
    """What ADD made for this very container from this very list, if anything."""
    kept = _kept(attachment.result_path)
    if kept is None or kept["container_id"] != attachment.container_id or kept["config"] != attachment.config:
        return None
    return kept if list(kept.get("port_mappings", [])) == list(attachment.port_mappings) else None


def check(attachment: Attachment, kept: dict[str, Any]) -> str:
    """CHECK through the chain with the kept result: '' when every plugin says what it made is
    as it was, else the first plugin's complaint."""
    ipam = attachment.lab_dir / "ipam"
    for plugin in attachment.config["plugins"]:
        conf = _plugin_config(attachment.config, plugin, ipam, attachment.port_mappings, kept["result"])
        try:
            _run("CHECK", attachment, conf)
        except EngineError as exc:
            return str(exc)
    return ""


def delete(lab: Path, container: str, host_netns: str, netns: str = "") -> None:
    """DEL through the chain in reverse, from the kept result (a container namespace gone already
    is fine: the plugins then release the address and their rules), and forget it."""
    path = lab / f"{container}.json"
    kept = _kept(path)
    if kept is None:
        return
    mappings = tuple(kept.get("port_mappings", []))
    attachment = Attachment(
        lab,
        container,
        kept.get("host", ""),
        kept["container_id"],
        host_netns,
        netns,
        kept["config"],
        mappings,
    )
    _delete(attachment, kept["config"]["plugins"], kept["result"])
    path.unlink(missing_ok=True)


def _delete(attachment: Attachment, plugins: list[dict[str, Any]], result: dict[str, Any] | None) -> None:
    ipam = attachment.lab_dir / "ipam"
    for plugin in reversed(plugins):
        conf = _plugin_config(attachment.config, plugin, ipam, attachment.port_mappings, result)
        try:
            _run("DEL", attachment, conf)
        except EngineError:
            continue  # DEL is best effort: the others still release what they made


def kept_results(lab: Path) -> dict[str, dict[str, Any]]:
    """The result of every container attached on this lab host, by container."""
    out = {}
    for path in sorted(lab.glob("*.json")) if lab.exists() else []:
        if (kept := _kept(path)) is not None:
            out[path.stem] = kept
    return out


def forget(lab: Path) -> None:
    """The lab's CNI state, once nothing of it is attached any more."""
    shutil.rmtree(lab, ignore_errors=True)


def _kept(path: Path) -> dict[str, Any] | None:
    try:
        kept: dict[str, Any] = json.loads(path.read_text())
        return kept
    except (FileNotFoundError, json.JSONDecodeError):
        return None
