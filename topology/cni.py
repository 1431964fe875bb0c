"""CNI networks in a lab document: a network configuration list run by the CNI reference plugins
(Debian's `containernetworking-plugins`) on an emulated host, for the containers that join it
(`mode: cni:<network>`). What is allowed in one is decided here; running it is `worker/cni.py`."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
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

# What each plugin may be given: only known keys, each of a known shape (the plugins put some
# values on command lines: none may start with '-'). Refused outright: portmap's conditionsV4/V6
# and externalSetMarkChain (verbatim iptables arguments), firewall's firewalld backend (the lab
# host's D-Bus), host-device's pciBusID and kernelpath (paths of the lab host).
Check = Callable[[Any], str | None]  # why a value is refused, or None


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _int(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"a whole number from {low} to {high}"

    return check


def _matching(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)
    return lambda value: None if isinstance(value, str) and compiled.match(value) else what


def _one_of(*values: str) -> Check:
    return lambda value: None if value in values else f"one of {', '.join(values)}"


def _address(value: Any) -> str | None:
    try:
        (ipaddress.ip_interface if "/" in str(value) else ipaddress.ip_address)(str(value))
    except ValueError:
        return "an address (or address/prefix)"
    return None if isinstance(value, str) else "an address (or address/prefix)"


IFNAME = _matching(r"^[A-Za-z0-9_.][A-Za-z0-9_.:-]{0,14}$", "an interface name (at most 15 characters)")
MAC = _matching(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$", "a MAC address (aa:bb:cc:dd:ee:ff)")
MTU = _int(68, 65535)
RATE = _int(0, 10**12)
BRIDGE_FLAGS = ["isGateway", "isDefaultGateway", "forceAddress", "ipMasq", "hairpinMode", "promiscMode",
                "preserveDefaultVlan", "enabledad", "macspoofchk", "disableContainerInterface",
                "portIsolation"]  # fmt: skip
CHAIN_NAME = _matching(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,27}$", "a chain name")
KEYS: dict[str, dict[str, Check]] = {
    "bridge": {"bridge": IFNAME, "mtu": MTU, "vlan": _int(0, 4094), **dict.fromkeys(BRIDGE_FLAGS, _bool)},
    "ptp": {"ipMasq": _bool, "mtu": MTU},
    "macvlan": {
        "master": IFNAME,
        "mode": _one_of("bridge", "private", "vepa", "passthru"),
        "mtu": MTU,
        "linkInContainer": _bool,
    },
    "ipvlan": {"master": IFNAME, "mode": _one_of("l2", "l3", "l3s"), "mtu": MTU, "linkInContainer": _bool},
    "host-device": {"device": IFNAME, "hwaddr": MAC},
    "vlan": {"master": IFNAME, "vlanId": _int(0, 4094), "mtu": MTU, "linkInContainer": _bool},
    "portmap": {"snat": _bool, "markMasqBit": _int(0, 31), "backend": _one_of("iptables", "nftables")},
    "bandwidth": dict.fromkeys(["ingressRate", "ingressBurst", "egressRate", "egressBurst"], RATE),
    "firewall": {
        "backend": _one_of("iptables"),
        "ingressPolicy": _one_of("open", "same-bridge"),
        "iptablesAdminChainName": CHAIN_NAME,
    },
    "tuning": {  # sysctl: its keys are checked on their own
        "sysctl": lambda value: None,
        "mac": MAC,
        "promisc": _bool,
        "allmulti": _bool,
        "mtu": MTU,
        "txQLen": _int(0, 100_000),
    },
    "sbr": {"table": _int(1, 2**31 - 1)},
    "vrf": {"vrfname": IFNAME, "table": _int(1, 2**31 - 1)},
}
EVERY_PLUGIN = frozenset({"type", "name", "cniVersion", "capabilities", "ipam"})
CAPABILITIES = frozenset({"portMappings", "bandwidth", "ips", "mac", "io.kubernetes.cri.pod-annotations"})
ROUTE_KEYS = {"dst": _address, "gw": _address}
ADDRESS_KEYS = {"address": _address, "gateway": _address}
RANGE_KEYS = {"subnet": _address, "rangeStart": _address, "rangeEnd": _address, "gateway": _address}
IPAM_KEYS: dict[str, frozenset[str]] = {
    "host-local": frozenset({"type", "ranges", "routes", "dns", *RANGE_KEYS}),
    "static": frozenset({"type", "addresses", "routes", "dns"}),
}


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
    out += _known_keys(path, kind, plugin)
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
        else:
            out += _known_ipam(path + ".ipam", ipam)
    elif kind in INTERFACE_PLUGINS - {"host-device"}:
        out.append(error(path + ".ipam", f"a {kind} plugin needs address management: host-local or static"))
    return out


def _known_keys(path: str, kind: str, plugin: dict[str, Any]) -> list[Problem]:
    allowed, out = KEYS[kind], []
    for key, value in plugin.items():
        if key in EVERY_PLUGIN or key in ENGINE_KEYS:
            continue
        check = allowed.get(key)
        if check is None:
            takes = ", ".join(sorted(allowed))
            out.append(
                error(join_path(path, key), f"not a setting of the {kind} plugin here (it takes {takes})")
            )
        elif (why := check(value)) is not None:
            out.append(error(join_path(path, key), why))
    if "name" in plugin and (why := NAME(plugin["name"])):
        out.append(error(path + ".name", why))
    capabilities = plugin.get("capabilities", {})
    if not isinstance(capabilities, dict) or any(
        key not in CAPABILITIES or not isinstance(value, bool) for key, value in capabilities.items()
    ):
        out.append(
            error(path + ".capabilities", f"a mapping of {', '.join(sorted(CAPABILITIES))} to true or false")
        )
    return out


NAME = _matching(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$", "letters, digits, . _ - (at most 64)")
WORD = _matching(r"^[A-Za-z0-9_.][A-Za-z0-9_.:-]{0,252}$", "a name (letters, digits, . _ : -)")


def _known_ipam(path: str, ipam: dict[str, Any]) -> list[Problem]:
    allowed = IPAM_KEYS[ipam["type"]]
    out = [
        error(
            join_path(path, key),
            f"not a setting of {ipam['type']} here (it takes {', '.join(sorted(allowed))})",
        )
        for key in ipam
        if key not in allowed
    ]
    out += _fields(path, ipam, RANGE_KEYS)
    ranges = ipam.get("ranges", [])
    if not isinstance(ranges, list) or not all(isinstance(r, list) for r in ranges):
        out.append(error(path + ".ranges", "a list of range sets, each a list of {subnet, ...}"))
    else:
        for i, ranged in enumerate(ranges):
            out += _entries(join_path(path + ".ranges", i), ranged, RANGE_KEYS)
    out += _entries(path + ".routes", ipam.get("routes", []), ROUTE_KEYS)
    out += _entries(
        path + ".addresses", ipam.get("addresses", []), {"address": _address, "gateway": _address}
    )
    dns = ipam.get("dns", {})
    if not isinstance(dns, dict) or set(dns) - {"nameservers", "domain", "search", "options"}:
        return [*out, error(path + ".dns", "a mapping of nameservers, domain, search and options")]
    out += _fields(path + ".dns", dns, {"domain": WORD})
    for key, check in (("nameservers", _address), ("search", WORD), ("options", WORD)):
        values = dns.get(key, [])
        if not isinstance(values, list) or len(values) > 16 or any(check(v) for v in values):
            out.append(
                error(
                    f"{path}.dns.{key}",
                    "a list of at most 16 " + ("addresses" if check is _address else "names"),
                )
            )
    return out


def _fields(path: str, mapping: dict[str, Any], checks: Mapping[str, Check]) -> list[Problem]:
    return [
        error(join_path(path, key), why)
        for key, check in checks.items()
        if key in mapping and (why := check(mapping[key])) is not None
    ]


def _entries(path: str, entries: Any, checks: Mapping[str, Check]) -> list[Problem]:
    """A list of mappings with only these keys, each of its shape."""
    if not isinstance(entries, list) or len(entries) > 64:
        return [error(path, "a list (at most 64)")]
    out = []
    for i, entry in enumerate(entries):
        where = join_path(path, i)
        if not isinstance(entry, dict) or set(entry) - set(checks):
            out.append(error(where, f"a mapping of {', '.join(checks)}"))
        else:
            out += _fields(where, entry, checks)
    return out


def plugin_types(config: dict[str, Any]) -> list[str]:
    return [str(p.get("type")) for p in config.get("plugins", [])]


def maps_ports(config: dict[str, Any] | None) -> bool:
    """Whether a plugin of the list takes the runtime's port mappings (portmap's capability)."""
    plugins = (config or {}).get("plugins") or []
    return any(isinstance(p, dict) and (p.get("capabilities") or {}).get("portMappings") for p in plugins)
