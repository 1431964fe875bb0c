"""Validation: every problem at once, with a path and a plain sentence."""

from topology.document import read_document
from topology.validation import validate, validate_text


def messages(text):
    _, problems = validate_text(text)
    return [str(p) for p in problems]


def test_valid_document_has_no_problems(fixture_text):
    assert messages(fixture_text("valid-small.yaml")) == []


def test_broken_document_reports_everything_at_once(fixture_text):
    found = messages(fixture_text("broken-many.yaml"))
    expected = [
        "error: nodes.h1.interfaces.eth0.network: no network named 'nowhere'",
        "error: nodes.web2.ports[0]: host port 10000 on host h1 is already published by nodes.web1",
        "error: nodes.lost.host: no node named 'ghost'",
        "error: nodes.lost.image: a container needs an image",
        "error: nodes.r1.kind: unknown kind 'spaceship'; known kinds: container, host, router, switch",
        "error: links[0].endpoints[1]: no node named 'nobody'",
        "error: networks.lan.subnet: '198.18.0.0/33' is not a subnet like 198.18.0.0/24",
        "error: networks.ov.subnet: an overlay network needs a subnet",
    ]
    for line in expected:
        assert line in found
    assert any("averyveryverylongname" in p and "15 characters" in p for p in found)


def test_host_mode_clash_is_a_warning_not_an_error(demo_text):
    _, problems = validate_text(demo_text("docker-modes"))
    assert [p.severity for p in problems] == ["warning"]
    assert problems[0].path == "nodes.nginx-1b.ports[0]"
    assert "address in use" in problems[0].message


def test_both_demo_labs_validate_clean(demo_text):
    _, problems = validate_text(demo_text("routed"))
    assert problems == []


def base(extra_nodes="", networks=""):
    return (
        "name: t\nnetworks:\n  lan: {kind: segment, subnet: 198.18.0.0/24}\n"
        + networks
        + "nodes:\n  h1: {kind: host, publish_range: 10000-10999, interfaces: {eth0: {network: lan}}}\n"
        + extra_nodes
    )


def test_published_port_outside_the_hosts_range():
    found = messages(base("  c: {kind: container, host: h1, image: i, ports: ['80:80']}\n"))
    assert found == ["error: nodes.c.ports[0]: host port 80 is outside host h1's publish range 10000-10999"]


def test_mode_checks():
    found = messages(
        base(
            "  a: {kind: container, host: h1, image: i, mode: overlay:lan}\n"
            "  b: {kind: container, host: h1, image: i, mode: weird}\n"
            "  c: {kind: container, host: h1, image: i, mode: none, ports: ['10000:80']}\n"
            "  d: {kind: container, host: h1, image: i, mode: host, ports: ['80:81']}\n"
        )
    )
    assert "error: nodes.a.mode: 'lan' is a segment network, not an overlay" in found
    assert any(p.startswith("error: nodes.b.mode: 'weird' is not a mode") for p in found)
    assert "error: nodes.c.ports: a container in none mode publishes no ports" in found
    assert any(p.startswith("error: nodes.d.ports[0]: in host mode") for p in found)


def test_fields_a_kind_does_not_take():
    found = messages(base("  s1: {kind: switch, image: foo, routes: [{to: default, via: 198.18.0.1}]}\n"))
    assert "error: nodes.s1.image: a switch has no 'image'" in found
    assert "error: nodes.s1.routes: a switch has no 'routes'" in found


def test_address_problems():
    found = messages(
        base(
            "  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.9/24}}}\n"
            "  h3: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.9/24}}}\n"
            "  h4: {kind: host, interfaces: {eth0: {network: lan, address: 10.0.0.1/8}}}\n"
            "  h5: {kind: host, interfaces: {eth0: {network: lan, address: banana}}}\n"
        )
    )
    assert "error: nodes.h3.interfaces.eth0.address: 198.18.0.9 is already the address of h2:eth0" in found
    assert any(
        p.startswith("warning: nodes.h4.interfaces.eth0.address: 10.0.0.1/8 is outside") for p in found
    )
    assert any("'banana' is not an address" in p for p in found)


def test_a_route_its_node_cannot_use_is_flagged():
    found = messages(
        base(
            "  r1: {kind: router, interfaces: {eth0: {network: lan, address: 198.18.0.1/24}}}\n"
            "  h2: {kind: host, interfaces: {eth0: {network: lan}}, routes: [{to: default, via: 198.18.0.1}]}\n"
            # pasted elsewhere: its route still points at its old neighbour
            "  h3: {kind: host, interfaces: {eth0: {network: far}}, routes: [{to: default, via: 198.18.0.1}]}\n"
            "  h4: {kind: host, routes: [{to: 10.0.0.0/8, via: 198.18.0.1}]}\n",
            networks="  far: {kind: segment, subnet: 198.18.9.0/24}\n",
        )
    )
    cannot = [p for p in found if "the route cannot be used" in p]
    assert cannot == [
        "warning: nodes.h3.routes[0].via: 198.18.0.1 is on none of h3's subnets (198.18.9.0/24): "
        "the route cannot be used",
        "warning: nodes.h4.routes[0].via: h4 has no interface to reach 198.18.0.1 through: "
        "the route cannot be used",
    ]


def test_links_cannot_reuse_or_double_attach():
    found = messages(
        base(
            "  h2: {kind: host}\n",
        )
        + "links:\n  - endpoints: [h1:eth0, h2:eth0]\n  - endpoints: [h2:eth0, h1:eth5]\n"
    )
    assert any("h1:eth0 is attached to network 'lan' and cannot also be linked" in p for p in found)
    assert any("h2:eth0 is already used by links[0]" in p for p in found)


def test_pool_exhaustion_is_reported():
    text = "name: t\nnetworks:\n  lan: {kind: segment, subnet: 198.18.0.0/30}\nnodes:\n" + "".join(
        f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(4)
    )
    found = messages(text)
    assert found == [
        "error: nodes.h2.interfaces.eth0: no free address is left in 198.18.0.0/30",
        "error: nodes.h3.interfaces.eth0: no free address is left in 198.18.0.0/30",
    ]


def test_validate_accepts_a_parsed_document(fixture_text):
    assert validate(read_document(fixture_text("valid-small.yaml"))) == []


FILES = """
name: files
nodes:
  r1:
    kind: router
    files:
      /etc/frr/frr.conf: "hostname r1\\n"
      {path}: {content}
  sw: {{kind: switch, files: {{/etc/x: y}}}}
"""


def test_node_files_are_few_small_and_at_plain_absolute_paths():
    def problems(path, content="x"):
        return messages(FILES.format(path=path, content=content))

    assert problems("/etc/motd") == ["error: nodes.sw.files: a switch has no 'files'"]
    assert (
        "error: nodes.r1.files.etc/motd: a file needs an absolute path to a file, e.g. /etc/frr/frr.conf"
        in (problems("etc/motd"))
    )
    assert any("'..' parts" in p for p in problems("/etc/../root/.ssh/keys"))
    assert any("'..' parts" in p for p in problems("/etc//motd"))
    assert any("cannot go under /proc, /sys, /dev" in p for p in problems("/proc/sys/net/ipv4/ip_forward"))
    assert any("at most 64 KiB" in p for p in problems("/big", "x" * 70_000))
    many = "\n".join(f"      /f{i}: x" for i in range(40))
    text = FILES.replace("      {path}: {content}", many).replace("{{", "{").replace("}}", "}")
    assert any("at most 32 files; r1 has 41" in p for p in messages(text))
    total = "\n".join(f"      /f{i}: {'x' * 60_000}" for i in range(5))
    text = FILES.replace("      {path}: {content}", total).replace("{{", "{").replace("}}", "}")
    assert any("at most 256 KiB together" in p for p in messages(text))


CNI_BASE = """
name: cni
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
  net:
    kind: cni
    host: h1
    config: CONFIG
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan}}}
  h2: {kind: host, interfaces: {eth0: {network: lan}}}
  app: {kind: container, host: h1, image: i, mode: cni:net, ports: ['10002:80']}
"""
BRIDGE_PORTMAP = (
    "{plugins: [{type: bridge, ipam: {type: host-local, subnet: 10.9.0.0/24}},"
    " {type: portmap, capabilities: {portMappings: true}}]}"
)


def test_the_cni_demo_validates_clean_and_a_good_chain_too(demo_text):
    assert validate_text(demo_text("cni"))[1] == []
    assert messages(CNI_BASE.replace("CONFIG", BRIDGE_PORTMAP)) == []


def test_a_cni_configuration_is_checked_plugin_by_plugin():
    bad = (
        "{cniVersion: 0.3.0, plugins: [{type: portmap}, {type: bridge, dataDir: /etc, ipam: {type: dhcp}},"
        " {type: rocket}]}"
    )
    found = messages(CNI_BASE.replace("CONFIG", bad))
    assert "error: networks.net.config.cniVersion: use one of 0.4.0, 1.0.0" in found
    assert any(
        p.startswith("error: networks.net.config.plugins[0].type: portmap cannot come first") for p in found
    )
    assert any(
        p.startswith("error: networks.net.config.plugins[1].type: bridge cannot come after") for p in found
    )
    assert "error: networks.net.config.plugins[1].dataDir: set by Wirelab, not by the lab" in found
    assert any(
        p.startswith("error: networks.net.config.plugins[1].ipam.type: use one of host-local, static")
        for p in found
    )
    assert any(
        p.startswith("error: networks.net.config.plugins[2].type: 'rocket' is not a plugin here")
        for p in found
    )
    # what would reach past the host's namespace: a global sysctl, a file of the lab host
    escape = (
        "{plugins: [{type: bridge, ipam: {type: host-local, subnet: 10.9.0.0/24, resolvConf: /etc/shadow}},"
        " {type: tuning, sysctl: {kernel.pid_max: '10', 'net/../kernel/core_pattern': x, net.ipv4.ip_forward: '1'}}]}"
    )
    found = messages(CNI_BASE.replace("CONFIG", escape).replace(", ports: ['10002:80']", ""))
    assert any(
        p.startswith("error: networks.net.config.plugins[0].ipam.resolvConf: a file of the lab host")
        for p in found
    )
    assert (
        "error: networks.net.config.plugins[1].sysctl.kernel.pid_max: only the container's own net.* settings"
        in found
    )
    assert any("net/../kernel/core_pattern" in p for p in found)
    assert not any("net.ipv4.ip_forward" in p for p in found)
    # no portmap with the capability: the container's ports cannot be mapped
    found = messages(
        CNI_BASE.replace("CONFIG", "{plugins: [{type: macvlan, master: eth0, ipam: {type: static}}]}")
    )
    assert any(p.startswith("error: nodes.app.ports: cni network 'net' maps no ports") for p in found)


def test_a_cni_plugin_takes_only_its_known_settings_each_of_its_shape():
    reaching_out = (
        "{plugins: [{type: macvlan, master: '-eth0', mode: bridge, mtu: 9, pciBusID: '0000:00:1f.6',"
        "  ipam: {type: host-local, ranges: [[{subnet: 10.9.0.0/24, rangeStart: '--x'}]], routes: [{dst: x, via: y}],"
        "         dns: {nameservers: ['-c'], options: ['ndots:2']}, files: /etc}},"
        " {type: portmap, capabilities: {portMappings: true, anything: true}, snat: 'yes',"
        "  conditionsV4: ['-j', 'ACCEPT'], externalSetMarkChain: KUBE-MARK-MASQ},"
        " {type: firewall, backend: firewalld, iptablesAdminChainName: '-A INPUT'}]}"
    )
    found = messages(CNI_BASE.replace("CONFIG", reaching_out))
    at = "error: networks.net.config.plugins"
    for expected in [
        f"{at}[0].master: an interface name (at most 15 characters)",
        f"{at}[0].mtu: a whole number from 68 to 65535",
        f"{at}[0].pciBusID: not a setting of the macvlan plugin here (it takes linkInContainer, master, mode, mtu)",
        f"{at}[0].ipam.files: not a setting of host-local here",
        f"{at}[0].ipam.ranges[0][0].rangeStart: an address (or address/prefix)",
        f"{at}[0].ipam.routes[0]: a mapping of dst, gw",
        f"{at}[0].ipam.dns.nameservers: a list of at most 16 addresses",
        f"{at}[1].capabilities: a mapping of",
        f"{at}[1].snat: true or false",
        f"{at}[1].conditionsV4: not a setting of the portmap plugin here",
        f"{at}[1].externalSetMarkChain: not a setting of the portmap plugin here",
        f"{at}[2].backend: one of iptables",
        f"{at}[2].iptablesAdminChainName: a chain name",
    ]:
        assert any(p.startswith(expected) for p in found), (expected, found)
    assert not any("dns.options" in p or "[0].mode" in p for p in found)  # those are fine
    assert len(found) == 13, found


def test_a_cni_network_lives_on_a_host_its_containers_share():
    text = CNI_BASE.replace("CONFIG", BRIDGE_PORTMAP)
    found = messages(text.replace("host: h1, image: i, mode: cni:net", "host: h2, image: i, mode: cni:net"))
    assert "error: nodes.app.mode: cni network 'net' is on host h1, not h2" in found
    found = messages(text.replace("    host: h1\n    config", "    config"))
    assert "error: networks.net.host: a cni network lives on a host: name it" in found
    assert (
        "error: networks.lan.config: only cni networks have a plugin configuration; this is a segment"
        in messages(
            text.replace(
                "lan: {kind: segment, subnet: 198.18.0.0/24}",
                "lan: {kind: segment, subnet: 198.18.0.0/24, config: {}}",
            )
        )
    )
    assert "error: nodes.app.mode: 'lan' is a segment network, not a cni network" in messages(
        text.replace("mode: cni:net", "mode: cni:lan")
    )
