"""The primer typed in a browser: the owner runs `docker run` in h1's console, and the container
appears on her diagram and on an anonymous viewer's shared view of the lab, published port and all."""

import time

import pytest

from .conftest import screenshot
from .test_editor import tap, terminal_text
from .test_sharing import deployed_lab, make_link

pytestmark = pytest.mark.kernel

ONE_HOST = """
name: typed-in-the-browser
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24, position: {x: 300, y: 320}}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}, position: {x: 300, y: 150}}
  client: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.100/24}}, position: {x: 520, y: 320}}
"""


def test_a_container_typed_in_a_console_appears_on_a_shared_view(browser_page):
    owner = browser_page
    deployed_lab(owner, ONE_HOST, nodes=3)
    url = make_link(owner, "view")

    anonymous = owner.context.browser.new_context(viewport={"width": 1280, "height": 800})
    viewer = anonymous.new_page()
    try:
        viewer.goto(url)
        viewer.wait_for_function(
            "window.wirelab && window.wirelab.cy && window.wirelab.cy.nodes().length === 3"
        )
        viewer.wait_for_function("document.querySelector('#live').textContent === 'live'", timeout=30_000)

        owner.keyboard.press("Escape")  # the share panel closed
        tap(owner, "n:h1", button="right")
        owner.click("#menu button:text-is('Console')")
        owner.wait_for_selector("#terminal .xterm-rows")
        time.sleep(0.5)
        owner.keyboard.type("docker run -d --name web -p 10000:80 nginx\n")
        owner.wait_for_function("document.querySelector('#terminal .xterm-rows').innerText.match(/\\n[0-9a-f]{64}/)",
                                timeout=120_000)  # fmt: skip
        # on the viewer's diagram without a reload, with its published port, and running
        viewer.wait_for_function("window.wirelab.cy.getElementById('n:web').length === 1", timeout=30_000)
        viewer.wait_for_function("window.wirelab.live.nodes.web?.state === 'running'", timeout=30_000)
        assert viewer.evaluate("window.wirelab.shared.document.nodes.web.ports") == ["10000:80"]
        owner.wait_for_function("window.wirelab.cy.getElementById('n:web').length === 1", timeout=30_000)

        owner.keyboard.type("docker ps --format '{{.Names}} {{.Ports}}'\n")
        owner.wait_for_function("document.querySelector('#terminal .xterm-rows').innerText"
                                ".includes('web 0.0.0.0:10000->80/tcp')", timeout=30_000)  # fmt: skip
        assert "web 0.0.0.0:10000->80/tcp" in terminal_text(owner)
        screenshot(owner, "docker-typed-console")
        owner.click("#close-console")
        tap(owner, "n:web")
        owner.wait_for_selector("#panel .docker-run code")
        assert owner.inner_text("#panel .docker-run code") == "docker run -d --name web -p 10000:80 nginx"
        screenshot(owner, "docker-typed-panel")
        viewer.evaluate("window.wirelab.cy.fit(undefined, 30)")
        screenshot(viewer, "docker-typed-shared-view")
    finally:
        anonymous.close()
