"""CNI networks in a lab document: a network configuration list run by the CNI reference plugins
(Debian's `containernetworking-plugins`) on an emulated host, for the containers that join it
(`mode: cni:<network>`). What is allowed in one is decided here; running it is `worker/cni.py`."""

from __future__ import annotations

import json
import re
from typing import Any

from .problems import Problem, error, join_path

# The reference plugins a lab may chain (dhcp needs a daemon on the lab host: not offered).
INTERFACE_PLUGINS = frozenset({"bridge", "ptp", "macvlan", "ipvlan", "host-device", "vlan"})
CHAINED_PLUGINS = frozenset({"portmap", "bandwidth", "firewall", "tuning", "sbr", "vrf"})
PLUGINS = INTERFACE_PLUGINS | CHAINED_PLUGINS
IPAM = frozenset({"host-local", "static"})
VERSIONS = ("0.4.0", "1.0.0")
MAX_PLUGINS = 8
MAX_CONFIG_BYTES = 16 * 1024
# set by the engine, never by a document: where IPAM keeps its state, what the runtime passes
ENGINE_KEYS = frozenset({"dataDir", "runtimeConfig", "prevResult"})
# The plugins run as root on the lab host (only their network namespace is the host's): what they
# write outside it must be the namespace's own. tuning writes /proc/sys/<key>, which is per
# namespace only under net.; host-local reads the file `resolvConf` names.
NET_SYSCTL = re.compile(r"^net(\.[A-Za-z0-9_-]+)+$")
HOST_FILE_KEYS = frozenset({"resolvConf"})


def check_config(path: str, config: Any) -> list[Problem]:
    """Problems of a CNI network's configuration list (`plugins`, optional `cniVersion`)."""
    if not isinstance(config, dict):
        return [error(path, "a CNI network needs its configuration list: {plugins: [...]}")]
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        return [error(path, f"a CNI configuration is at most {MAX_CONFIG_BYTES // 1024} KB")]
    out = []
    if config.get("cniVersion", "1.0.0") not in VERSIONS:
        out.append(error(path + ".cniVersion", f"use one of {', '.join(VERSIONS)}"))
    plugins = config.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        return [*out, error(path + ".plugins", "list the plugins to chain, the first making the interface")]
    if len(plugins) > MAX_PLUGINS:
        out.append(error(path + ".plugins", f"at most {MAX_PLUGINS} plugins are chained"))
    for index, plugin in enumerate(plugins):
        out += _check_plugin(join_path(path + ".plugins", index), plugin, first=index == 0)
    return out


def _check_plugin(path: str, plugin: Any, first: bool) -> list[Problem]:
    if not isinstance(plugin, dict):
        return [error(path, "a plugin is a mapping with its type: {type: bridge, ...}")]
    kind = plugin.get("type")
    wanted = INTERFACE_PLUGINS if first else CHAINED_PLUGINS
    if kind not in PLUGINS:
        return [
            error(path + ".type", f"'{kind}' is not a plugin here; use one of {', '.join(sorted(PLUGINS))}")
        ]
    out = []
    if kind not in wanted:
        where = "first (it makes the interface)" if first else "after the first (they adjust its result)"
        out.append(
            error(path + ".type", f"{kind} cannot come {where}: use one of {', '.join(sorted(wanted))}")
        )
    out += [
        error(join_path(path, key), "set by Wirelab, not by the lab")
        for key in sorted(ENGINE_KEYS & set(plugin))
    ]
    sysctls = plugin.get("sysctl") if kind == "tuning" else None
    if sysctls is not None and not isinstance(sysctls, dict):
        out.append(error(path + ".sysctl", "a mapping of net.* settings to values"))
    for key in sysctls if isinstance(sysctls, dict) else []:
        if not NET_SYSCTL.match(str(key)):
            out.append(error(join_path(path + ".sysctl", key), "only the container's own net.* settings"))
    ipam = plugin.get("ipam")
    if ipam is not None:
        if not isinstance(ipam, dict) or ipam.get("type") not in IPAM:
            out.append(error(path + ".ipam.type", f"use one of {', '.join(sorted(IPAM))} address management"))
        elif ENGINE_KEYS & set(ipam):
            out.append(error(path + ".ipam.dataDir", "set by Wirelab: each lab keeps its own addresses"))
        elif HOST_FILE_KEYS & set(ipam):
            out.append(
                error(path + ".ipam.resolvConf", "a file of the lab host: name DNS servers in ipam.dns")
            )
    elif kind in INTERFACE_PLUGINS - {"host-device"}:
        out.append(error(path + ".ipam", f"a {kind} plugin needs address management: host-local or static"))
    return out


def plugin_types(config: dict[str, Any]) -> list[str]:
    return [str(p.get("type")) for p in config.get("plugins", [])]


def maps_ports(config: dict[str, Any] | None) -> bool:
    """Whether a plugin of the list takes the runtime's port mappings (portmap's capability)."""
    plugins = (config or {}).get("plugins") or []
    return any(isinstance(p, dict) and (p.get("capabilities") or {}).get("portMappings") for p in plugins)
