"""Kathará labs: a lab folder (`lab.conf` and the `*.startup` files beside it) imported as a
Wirelab lab document, and a lab exported back as such a folder.

`lab.conf` says, per device, `X[n]="domain"` (its interface eth<n> is on collision domain
`domain`), `X[image]`, `X[env]`, `X[exec]`, and a few options Wirelab has no use for
(`bridged`, `port`, `mem`, `cpus`, ...: warnings). Collision domains become LAN segments
without a subnet, so the addresses are the ones the startup files set, as in Kathará. A
device on more than one domain is a router, one on a single domain an end host. `X.startup`
(and `shared.startup`, run on every device first) becomes the device's startup script, run
inside the device, never on the lab host. Per-device folders (`X/etc/...`) are not carried
over: warnings.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from .document import FORMAT_VERSION, LabDoc, parse_document
from .peers import has_trait as _kind
from .peers import interfaces_of, setup_commands
from .problems import Problem, TopologyError, error, join_path, warning

MAX_FILES = 200
MAX_TOTAL_BYTES = 1_000_000
MAX_STARTUP_BYTES = 64 * 1024
LINE = re.compile(r'^\s*([A-Za-z0-9_.-]+)\[([A-Za-z0-9_]+)\]\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|(\S*))\s*$')
META = re.compile(r'^\s*(LAB_[A-Z_]+)\s*=\s*"?([^"]*)"?\s*$')
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
IGNORED_OPTIONS = {
    "bridged",
    "port",
    "mem",
    "cpus",
    "ipv6",
    "shell",
    "num_terms",
    "hosthome",
    "ulimit",
    "privileged",
}
DEFAULT_IMAGE = "kathara/base"


def _text(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TopologyError([error(path, "is not UTF-8 text")]) from None


def files_from_zip(data: bytes) -> dict[str, bytes]:
    """The files of a zipped lab folder (a single top folder is stripped), bounded in count and
    size whatever the archive claims."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TopologyError([error("", f"not a readable zip archive: {exc}")]) from None
    if len(entries) > MAX_FILES:
        raise TopologyError(
            [error("", f"a lab archive has at most {MAX_FILES} files; this one has {len(entries)}")]
        )
    files: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/"):
            raise TopologyError([error(name, "a path in the archive leaves the lab's folder")])
        try:
            with archive.open(entry) as handle:
                content = handle.read(MAX_TOTAL_BYTES - total + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
            raise TopologyError([error(name, f"cannot be read from the archive: {exc}")]) from None
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise TopologyError([error("", f"a lab archive holds at most {MAX_TOTAL_BYTES} bytes")])
        files[name] = content
    tops = {name.split("/", 1)[0] for name in files}
    if "lab.conf" not in files and len(tops) == 1 and all("/" in name for name in files):
        top = tops.pop() + "/"
        files = {name[len(top) :]: content for name, content in files.items()}
    return files


def looks_like_kathara(files: dict[str, bytes]) -> bool:
    return "lab.conf" in files


def convert(files: dict[str, bytes]) -> tuple[dict[str, Any], list[Problem]]:
    """A Kathará lab's files -> (Wirelab document data, warnings)."""
    if "lab.conf" not in files:
        raise TopologyError([error("lab.conf", "a Kathará lab has a lab.conf at its top")])
    notes: list[Problem] = []
    devices: dict[str, dict[str, Any]] = {}
    meta: dict[str, str] = {}
    for number, line in enumerate(_text(files["lab.conf"], "lab.conf").splitlines(), start=1):
        _read_line(number, line, devices, meta, notes)
    shared = _startup(files, "shared.startup")
    for name in sorted(files):
        if "/" in name:
            device = name.split("/", 1)[0]
            if device in devices or device == "shared":
                notes.append(warning(name, "per-device and shared folders are not carried over"))
        elif name.endswith(".startup") and name != "shared.startup":
            device = name[: -len(".startup")]
            if device not in devices:
                notes.append(warning(name, f"'{device}' is not in lab.conf: its startup file is left out"))
        elif name not in ("lab.conf", "shared.startup", "lab.dep"):
            notes.append(warning(name, "not carried over"))
    nodes: dict[str, dict[str, Any]] = {}
    domains: set[str] = set()
    for device, found in devices.items():
        interfaces = found["interfaces"]
        ifaces = {f"eth{n}": {"network": domain} for n, domain in sorted(interfaces.items())}
        domains.update(interfaces.values())
        node: dict[str, Any] = {
            "kind": "router" if len(interfaces) > 1 else "host",
            "image": found.get("image", DEFAULT_IMAGE),
        }
        if ifaces:
            node["interfaces"] = ifaces
        if found["env"]:
            node["env"] = found["env"]
        script = "\n".join(part for part in (shared, _startup(files, f"{device}.startup")) if part)
        node["exec"] = [script, *found["exec"]] if script else found["exec"]
        if not node["exec"]:
            del node["exec"]
        nodes[device] = node
    doc = {
        "wirelab": FORMAT_VERSION,
        "name": meta.get("LAB_NAME") or "kathara-lab",
        "description": meta.get("LAB_DESCRIPTION", ""),
        "networks": {domain: {"kind": "segment"} for domain in sorted(domains)},
        "nodes": nodes,
    }
    return doc, notes


def _read_line(
    number: int, line: str, devices: dict[str, Any], meta: dict[str, Any], notes: list[Problem]
) -> None:
    where = f"lab.conf line {number}"
    text = line.strip()
    if not text or text.startswith("#"):
        return
    if match := META.match(text):
        meta[match.group(1)] = match.group(2)
        return
    match = LINE.match(text)
    if not match:
        notes.append(warning(where, "not understood; left out"))
        return
    device, key = match.group(1), match.group(2)
    value = next(v for v in match.group(3, 4, 5) if v is not None)
    if not NAME.match(device):
        raise TopologyError([error(where, f"'{device}' is not a usable device name")])
    found = devices.setdefault(device, {"interfaces": {}, "env": {}, "exec": []})
    if key.isdigit():
        domain, _, mac = value.partition("/")
        if not NAME.match(domain):
            raise TopologyError([error(where, f"'{domain}' is not a usable collision domain name")])
        if mac:
            notes.append(warning(where, f"the MAC address of {device}'s eth{key} is not carried over"))
        found["interfaces"][int(key)] = domain
    elif key == "image":
        found["image"] = value
    elif key == "env":
        name, sep, setting = value.partition("=")
        if not sep or not name:
            notes.append(warning(where, "an env setting is written NAME=value; left out"))
        else:
            found["env"][name] = setting
    elif key == "exec":
        found["exec"].append(value)
    elif key in IGNORED_OPTIONS or key == "sysctl":
        notes.append(warning(where, f"{device}[{key}] is not carried over"))
    else:
        notes.append(warning(where, f"unknown option {device}[{key}]; left out"))


def _startup(files: dict[str, bytes], name: str) -> str:
    if name not in files:
        return ""
    if len(files[name]) > MAX_STARTUP_BYTES:
        raise TopologyError([error(name, f"a startup file has at most {MAX_STARTUP_BYTES} bytes")])
    return _text(files[name], name).strip()


def import_kathara(files: dict[str, bytes]) -> tuple[LabDoc, list[Problem]]:
    converted, notes = convert(files)
    return parse_document(converted), notes


# Export ------------------------------------------------------------------------------------


def to_kathara(doc: LabDoc, addresses: dict[str, str] | None = None) -> tuple[dict[str, str], list[Problem]]:
    """A lab as the files of a Kathará lab folder, with warnings for what is left out.

    Kathará names a device's interfaces eth0, eth1, ... in the order of lab.conf: each
    Wirelab interface gets the next number, and the startup file uses the new names. A link
    becomes a collision domain of its own, and a switch one domain for all its ports.
    """
    addresses = addresses or {}
    notes: list[Problem] = []
    switch_domain = {name: f"{name}" for name, node in doc.nodes.items() if _kind(node.kind, "bridges_ports")}
    domain_of: dict[str, str] = {}  # "node:iface" -> collision domain
    for index, link in enumerate(doc.links):
        a, b = link.endpoints
        shared = next(
            (switch_domain[e.split(":")[0]] for e in (a, b) if e.split(":")[0] in switch_domain), None
        )
        for end in (a, b):
            domain_of[end] = shared or f"link{index}"
    conf = [f'LAB_NAME="{_plain(doc.name)}"']
    if doc.description:
        conf.append(f'LAB_DESCRIPTION="{_plain(doc.description)}"')
    files: dict[str, str] = {}
    for name, node in doc.nodes.items():
        if _kind(node.kind, "placed_on_host"):
            notes.append(
                warning(f"nodes.{name}", "Kathará has no emulated Docker hosts: this container is left out")
            )
            continue
        if name in switch_domain:
            continue
        renamed: dict[str, str] = {}
        for number, iface in enumerate(interfaces_of(doc, name)):
            attached = node.interfaces.get(iface)
            domain = (
                attached.network
                if attached is not None and attached.network
                else domain_of.get(f"{name}:{iface}")
            )
            network = doc.networks.get(domain) if domain else None
            if domain is None or (network is not None and network.kind != "segment"):
                notes.append(
                    warning(
                        f"nodes.{name}.interfaces.{iface}", "only LAN segments and links are carried over"
                    )
                )
                continue
            conf.append(f'{name}[{number}]="{domain}"')
            renamed[iface] = f"eth{number}"
        if node.image:
            conf += _conf_line(name, "image", node.image, f"nodes.{name}.image", notes)
        for key, value in (node.env or {}).items():
            conf += _conf_line(name, "env", f"{key}={value}", join_path("nodes", name, "env", key), notes)
        moved = ", ".join(f"{old} -> {new}" for old, new in renamed.items() if old != new)
        if moved and node.exec:
            notes.append(
                warning(f"nodes.{name}.exec", f"interfaces renamed for Kathará ({moved}): check its commands")
            )
        lines = setup_commands(doc, name, addresses, renamed) + list(node.exec or [])
        if lines:
            files[f"{name}.startup"] = "\n".join(lines) + "\n"
    for name, net in doc.networks.items():
        if net.kind != "segment":
            notes.append(warning(f"networks.{name}", f"Kathará has no {net.kind} networks: left out"))
    files["lab.conf"] = "\n".join(conf) + "\n"
    return files, notes


def _plain(text: str) -> str:
    """Text for a quoted lab.conf value: one line, without quotes or backslashes."""
    return " ".join(text.replace('"', "'").replace("\\", "/").split())


def _conf_line(device: str, key: str, value: str, path: str, notes: list[Problem]) -> list[str]:
    """`device[key]="value"`, or nothing (and a warning) when the value would break out of its
    quotes: lab.conf has no escapes, so a quote or a newline would add lines of its own."""
    if any(c in value for c in '"\\') or not value.isprintable():
        notes.append(warning(path, "left out: lab.conf cannot hold a quote, a backslash or a line break"))
        return []
    return [f'{device}[{key}]="{value}"']


def zip_files(files: dict[str, str], folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files.items()):
            archive.writestr(f"{folder}/{name}", text)
    return out.getvalue()
