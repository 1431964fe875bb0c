"""The editor in a real browser: draw, deploy, watch, console; pull a cable; import; refuse."""

import re
import time

import pytest

from labs.models import Lab
from tests.conftest import DEMOS

from .conftest import outside_the_browser_loop, screenshot

pytestmark = pytest.mark.kernel


def cy(page, script: str):
    return page.evaluate(f"(() => {{ const cy = window.wirelab.cy; {script} }})()")


def tap(page, element_id: str, button: str = "left") -> None:
    """Click a canvas element where it is drawn."""
    box = page.locator("#canvas").bounding_box()
    point = cy(page, f"const e = cy.getElementById('{element_id}'); "
                     "if (e.isNode() && e.isParent()) { const b = e.renderedBoundingBox({includeLabels: false}); "
                     "return {x: (b.x1 + b.x2) / 2, y: b.y1 + 6}; } "
                     "return e.isNode() ? e.renderedPosition() : e.renderedMidpoint();")  # fmt: skip
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"], button=button)


def new_lab(page, name: str) -> None:
    """A new empty lab from My labs, open in the editor with its palette ready."""
    page.fill("input[name=name]", name)
    page.click("#create-lab")
    page.wait_for_selector("#palette .item")


def add(page, label: str) -> None:
    page.dblclick(f"#palette .item:text-is('{label}')")


def saved(page) -> None:
    page.wait_for_function(
        "!window.wirelab.pending && document.querySelector('#save-state').textContent === 'saved'",
        timeout=30_000,
    )


def wait_all_running(page, timeout=90_000) -> None:
    try:
        _wait_all_running(page, timeout)
    except Exception:
        screenshot(page, "not-running")
        raise AssertionError(
            f"not all running: {page.inner_text('#log')} {page.evaluate('JSON.stringify(window.wirelab.live.nodes)')}"
        ) from None


def _wait_all_running(page, timeout) -> None:
    page.wait_for_function(
        """() => { const w = window.wirelab; const names = Object.keys(w.model.doc.nodes)
             .filter((n) => w.model.doc.nodes[n].kind !== 'switch');
           return names.length && names.every((n) => w.live.nodes[n] && w.live.nodes[n].state === 'running'); }""",
        timeout=timeout,
    )


def terminal_text(page) -> str:
    return page.evaluate("document.querySelector('#terminal .xterm-rows')?.innerText ?? ''")


def test_draw_deploy_console_and_pull_a_cable(browser_page):
    page = browser_page
    new_lab(page, "clicked")
    add(page, "Docker host")
    add(page, "Container")
    add(page, "Container")
    add(page, "End host")
    add(page, "Switch")
    saved(page)
    assert cy(page, "return cy.getElementById('n:app1').parent().id();") == "n:host1"
    assert cy(page, "return cy.getElementById('n:app2').parent().id();") == "n:host1"

    tap(page, "n:app1")
    page.fill("#panel [data-field=ports]", "10000:80")
    page.press("#panel [data-field=ports]", "Tab")
    tap(page, "n:app2")
    page.select_option("#panel [data-field=mode]", "host")
    tap(page, "n:host1")  # Connect, then the other end
    page.click("#connect")
    tap(page, "n:sw1")
    tap(page, "n:pc1")  # or both ends chosen first (Shift), then Connect
    page.keyboard.down("Shift")
    tap(page, "n:sw1")
    page.keyboard.up("Shift")
    page.click("#connect")
    saved(page)
    assert page.inner_text("#message") == ""  # no "connect ... to…" left behind
    assert "host1:10000 → app1:80" in cy(page, "return cy.getElementById('n:host1').data('label');")
    tap(page, "n:host1")  # a draft: no console or restart to offer, the address it will have
    assert page.locator("#panel button[data-action=console], #panel button[data-action=restart]").count() == 0
    assert re.search(
        r"host1:eth0: not deployed · 198\.18\.\d+\.\d+/24 once deployed", page.inner_text("#panel")
    )
    screenshot(page, "editor")
    stored = page.evaluate("fetch(`/api/labs/${window.wirelab.labId}/export/?as=json`).then((r) => r.json())")
    assert set(stored["nodes"]) == {"host1", "app1", "app2", "pc1", "sw1"}

    page.click("#deploy")
    wait_all_running(page)
    page.wait_for_function("document.querySelector('#status').textContent === 'running'", timeout=30_000)
    screenshot(page, "running-lab")

    page.wait_for_function(
        "(window.wirelab.live.links['host1:eth0'] || {}).addresses?.length", timeout=10_000
    )
    address = page.evaluate("window.wirelab.live.links['host1:eth0'].addresses[0].split('/')[0]")
    tap(page, "n:pc1", button="right")
    page.click("#menu button:text-is('Console')")
    page.wait_for_selector("#terminal .xterm-rows")
    time.sleep(0.5)
    page.keyboard.type(f"wget -qO- http://{address}:10000/\n")
    page.wait_for_function("document.querySelector('#terminal .xterm-rows').innerText.includes('\\napp1')",
                           timeout=30_000)  # fmt: skip
    assert "app1" in terminal_text(page)
    assert page.evaluate("window.scrollY") == 0  # typing kept the toolbar on the screen
    page.click("#close-console")

    link = cy(page, "return cy.edges('.link').filter((e) => e.data('ends').includes('host1:eth0'))[0].id();")
    tap(page, link)
    page.click("#panel button[data-action=pull]")  # how fast it shows is measured in bench/live.py
    page.wait_for_function(f"window.wirelab.cy.getElementById('{link}').hasClass('down')", timeout=30_000)
    assert cy(page, f"return cy.getElementById('{link}').style('line-color');") == "rgb(214,69,69)"
    page.wait_for_selector("#panel .end:has-text('host1:eth0') :text('down (cable pulled)')")
    assert " up" not in page.inner_text("#panel .end[data-end='host1:eth0']")  # the panel agrees
    page.click("#panel button[data-action=plug]")
    page.wait_for_function(f"window.wirelab.cy.getElementById('{link}').hasClass('up')", timeout=30_000)


def test_import_demo_shows_containers_ports_and_the_clash(browser_page, tmp_path):
    page = browser_page
    page.set_input_files("input[type=file][name=file]", str(DEMOS / "docker-modes.yaml"))
    page.click("#import-lab")
    page.wait_for_selector("#palette .item")
    page.wait_for_function("window.wirelab && window.wirelab.cy.nodes().length > 5")
    parents = cy(
        page,
        "return Object.fromEntries(cy.nodes('.container').map((n) => [n.data('name'), n.parent().id()]));",
    )
    assert parents == {"nginx-1": "n:h1", "nginx-1b": "n:h1", "nginx-2": "n:h1", "app-1": "n:h1",
                       "nginx-3": "n:h2", "app-dyn": "n:h2", "app-2": "n:h2"}  # fmt: skip
    h1 = cy(page, "return cy.getElementById('n:h1').data('label');")
    assert "h1:10000 → nginx-2:80" in h1
    assert "h1:80 ← nginx-1b (host mode)" in h1
    lab = outside_the_browser_loop(lambda: Lab.objects.get(name="docker-modes"))
    dynamic = lab.assignments["ports"]["app-dyn:0"]
    h2 = cy(page, "return cy.getElementById('n:h2').data('label');")
    assert f"h2:{dynamic} ← app-dyn (host mode, PORT0)" in h2 and "auto" not in h2  # the real port
    page.evaluate("window.wirelab.select({type: 'node', name: 'app-dyn'})")
    assert page.inner_text("#panel .handed-out") == f"handed out: PORT0 = {dynamic}"
    icons = cy(
        page,
        "return cy.nodes(':childless').filter((n) => n.hasClass('host') || n.hasClass('container'))"
        ".map((n) => [n.data('name'), n.style('background-image')]);",
    )
    assert len(icons) == 8 and all(url.startswith("data:image/svg+xml") for _, url in icons), icons
    every_kind = cy(
        page,
        "const probe = cy.add(['host', 'router', 'switch', 'container', 'segment', 'overlay'].map((k) => "
        "({group: 'nodes', data: {id: 'probe:' + k}, classes: k})));"
        "const urls = probe.map((n) => n.style('background-image')); probe.remove(); return urls;",
    )
    assert len(set(every_kind)) == 6 and all(u.startswith("data:image/svg+xml") for u in every_kind)
    assert page.is_visible("#legend")
    canvas_before = page.locator("#canvas").bounding_box()
    page.click("#deploy")
    page.wait_for_function(
        "window.wirelab.cy.getElementById('n:nginx-1b').hasClass('exited')", timeout=90_000
    )
    page.wait_for_function("document.querySelector('#status').textContent === 'degraded'", timeout=30_000)
    canvas_after = page.locator("#canvas").bounding_box()  # the deploy log opens only on failure
    kept = (canvas_after["width"] * canvas_after["height"]) / (
        canvas_before["width"] * canvas_before["height"]
    )
    assert kept >= 0.95, kept  # no drawer over it (the message line may take a second row)
    failed = cy(
        page,
        "const n = cy.getElementById('n:nginx-1b'); return [n.style('border-style'), n.hasClass('exited')];",
    )
    assert failed == ["dashed", True]  # its state shows by a line, not by colour alone
    page.evaluate("window.wirelab.select({type: 'node', name: 'nginx-1b'})")
    assert "Address already in use" in page.inner_text("#panel .live")
    assert "Address already in use" in page.inner_text("#message")  # the lab's status, in full
    page.click("#fit")
    screenshot(page, "docker-modes-running")
    # a running node's panel: its addresses and routes as the kernel has them, what listens, what is published
    tap(page, "n:h1")
    page.wait_for_function(
        "(() => { const t = document.querySelector('#panel').innerText;"
        " return t.includes('198.18.0.0/24 dev eth0') && t.includes('198.18.0.11/24') && t.includes('httpd'); })()",
        timeout=30_000,
    )
    assert "h1:10000 → nginx-2:80" in page.inner_text("#panel")
    screenshot(page, "panel-running-node")
    # the host's NAT as its kernel has it, read through the lab host
    page.click("#panel button[data-action=nat]")
    page.wait_for_selector("#nat-view table.nat", timeout=30_000)
    nat = page.inner_text("#nat-view")
    assert "tcp dport 10000" in nat and "dnat to" in nat and "masquerade" in nat
    # a packet's journey: the client to h1:10000, DNATed to nginx-2 and back, walked on the diagram
    page.evaluate("window.wirelab.select({type: 'node', name: 'client'})")
    page.evaluate(
        "window.hops = []; window.addEventListener('wirelab:hop', (e) => window.hops.push(e.detail.place))"
    )
    page.fill("#trace-target", "h1")
    page.select_option("#trace-protocol", "tcp")
    page.fill("#trace-port", "10000")
    page.click("#panel button[data-action=trace]")
    page.wait_for_selector("#trace-view ol.journey li", timeout=30_000)
    listed = page.eval_on_selector_all(
        "#trace-view ol.journey li b", "(items) => items.map((b) => b.textContent)"
    )
    client, h1 = "cable client:eth0", "cable h1:eth0"
    assert listed == ["client", client, h1, "h1", "nginx-2", "nginx-2", "h1", h1, client, "client"], listed
    assert "DNAT 198.18.0.11:10000" in page.inner_text("#trace-view") and "reached" in page.inner_text(
        "#trace-view .outcome"
    )
    page.wait_for_function(f"window.hops.length === {len(listed)}", timeout=30_000)
    assert page.evaluate("window.hops") == listed  # the dot went through them in order
    label = cy(page, "return cy.getElementById('trace:packet').data('label');")
    assert label == "reached at nginx-2"
    assert page.eval_on_selector("#trace-view li.current", "(li) => li.dataset.index") == str(len(listed) - 1)
    page.eval_on_selector("#trace-view", "(view) => view.scrollIntoView()")
    screenshot(page, "journey")
    # the dot never takes a click meant for the node under it; leaving the traced node's panel
    # clears the walk
    tap(page, "n:nginx-2", button="right")
    page.wait_for_selector("#menu button:text-is('Console')")
    page.keyboard.press("Escape")
    page.mouse.click(5, 790)  # elsewhere: the menu closes
    tap(page, "n:h2")
    assert cy(page, "return [cy.getElementById('trace:packet').length, cy.elements('.traced').length];") == [
        0,
        0,
    ]


def test_the_cni_demo_deploys_and_shows_what_the_plugins_made(browser_page):
    page = browser_page
    page.set_input_files("input[type=file][name=file]", str(DEMOS / "cni.yaml"))
    page.click("#import-lab")
    page.wait_for_function("window.wirelab && window.wirelab.cy.nodes().length === 10")
    h2 = cy(page, "return cy.getElementById('n:h2').data('label');")
    assert "h2:10002 → web-cni:80" in h2
    assert cy(page, "return cy.getElementById('net:cni-br').parent().id();") == "n:h2"
    page.click("#deploy")
    page.wait_for_function("document.querySelector('#status').textContent === 'running'", timeout=90_000)
    page.evaluate("window.wirelab.select({type: 'node', name: 'web-cni'})")
    page.wait_for_selector("#panel .cni-ips", timeout=30_000)
    result = page.inner_text("#panel .cni-ips")
    assert "eth0 198.19.64." in result and "gateway 198.19.64.1" in result
    assert "cni0 on the host" in page.inner_text("#panel .cni-interfaces")
    page.evaluate("window.wirelab.select({type: 'network', name: 'cni-mac'})")
    assert '"type": "macvlan"' in page.inner_text("#panel .cni-config")
    screenshot(page, "cni-running")


def test_a_broken_edit_is_shown_on_the_element_and_deploy_refuses(browser_page):
    page = browser_page
    new_lab(page, "broken")
    add(page, "Router")
    add(page, "Router")
    saved(page)
    tap(page, "n:r2")
    page.fill("#panel [data-field=name]", "r1")
    page.press("#panel [data-field=name]", "Tab")
    assert "another element is already named 'r1'" in page.inner_text("#panel")
    assert cy(page, "return cy.getElementById('n:r2').hasClass('problem');")
    assert cy(page, "return cy.getElementById('n:r1').hasClass('problem');")
    page.click("#deploy")
    assert "fix the problems" in page.inner_text("#message")
    operations = page.evaluate("fetch(`/api/labs/${window.wirelab.labId}/operations/`).then((r) => r.json())")
    assert operations == []


def test_an_end_host_cabled_to_one_router_is_given_its_gateway(browser_page):
    page = browser_page
    new_lab(page, "gateway")
    add(page, "Router")
    add(page, "End host")
    saved(page)
    tap(page, "n:r1")
    page.keyboard.down("Shift")
    tap(page, "n:pc1")
    page.keyboard.up("Shift")
    page.click("#connect")
    saved(page)
    page.wait_for_function("(window.wirelab.gateways.pc1 || {}).router === 'r1'")
    assert "default via r1" in cy(page, "return cy.getElementById('n:pc1').data('label');")
    tap(page, "n:pc1")
    via = page.evaluate("window.wirelab.gateways.pc1.via")
    assert f"default via {via} (r1), given by auto" in page.inner_text("#panel .gateway")
    screenshot(page, "gateway-auto")
    page.select_option("#panel [data-field=gateway]", "none")
    saved(page)
    page.wait_for_function("!window.wirelab.gateways.pc1")
    assert "default via" not in cy(page, "return cy.getElementById('n:pc1').data('label');")
    stored = page.evaluate("fetch(`/api/labs/${window.wirelab.labId}/export/?as=json`).then((r) => r.json())")
    assert stored["nodes"]["pc1"]["gateway"] == "none"
