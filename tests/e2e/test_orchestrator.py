"""The orchestrator demo in a browser: each app instance drawn on its agent with its brokered
port, the app as one element, an unhealthy instance drawn so, and a scale from the panel carried
out on the running lab."""

import docker
import pytest

from labs.demos import demo
from labs.models import Operation
from tests.waiting import wait_for
from worker.labels import container_name

from .conftest import outside_the_browser_loop, screenshot
from .test_editor import cy, tap
from .test_sharing import deployed_lab

pytestmark = pytest.mark.kernel


def test_the_app_is_drawn_on_its_agents_and_scales_from_the_panel(browser_page):
    page = browser_page
    text = demo("orchestrator").path.read_text()
    lab = deployed_lab(
        page, text, nodes=9
    )  # three agents, the client, the LAN, the app and its three instances
    for instance in ("web.1", "web.2", "web.3"):
        page.wait_for_function(
            f"window.wirelab.live.nodes['{instance}']?.state === 'running'", timeout=60_000
        )
    parents = cy(
        page,
        "return ['web.1', 'web.2', 'web.3'].map((i) => cy.getElementById('n:' + i).parent().id()).sort();",
    )
    assert parents == ["n:h1", "n:h2", "n:h3"]  # one on each agent (hostname:UNIQUE)
    label = cy(page, "return cy.getElementById('n:h1').data('label');")
    assert "h1:310" in label and "PORT0" in label, label  # the brokered port, on the agent
    screenshot(page, "orchestrator-deployed")

    # an instance that fails its health check is drawn so, and says why in the panel
    engine = docker.from_env()
    try:
        engine.containers.get(container_name(lab.tag, "web.3")).exec_run(["rm", "/www/index.html"])
    finally:
        engine.close()
    page.wait_for_function(
        "window.wirelab.cy.getElementById('n:web.3').hasClass('unhealthy')", timeout=60_000
    )
    tap(page, "n:web.3")
    page.wait_for_selector("#panel ul.instances li:has-text('unhealthy: GET / on port')")
    screenshot(page, "orchestrator-unhealthy")

    tap(page, "app:web")
    page.wait_for_selector("#panel h2:has-text('App web')")
    assert page.locator("#panel ul.instances li").count() == 3
    page.fill("#scale-to", "2")
    page.click("#panel button[data-action=scale]")
    page.wait_for_function("window.wirelab.cy.getElementById('n:web.3').length === 0", timeout=90_000)
    # the scale deployed the lab: its second deploy succeeded, and the page says it runs
    deploys = Operation.objects.filter(lab_id=lab.id, kind="deploy", status="succeeded")
    assert wait_for(lambda: outside_the_browser_loop(deploys.count) == 2, 90, "the scale's deploy")
    page.wait_for_function("document.querySelector('#status').textContent === 'running'", timeout=90_000)
    page.wait_for_function("document.querySelectorAll('#panel ul.instances li').length === 2", timeout=30_000)
    assert cy(page, "return cy.getElementById('app:web').data('label');").startswith(
        "web \N{MULTIPLICATION SIGN}2"
    )
    screenshot(page, "orchestrator-scaled")
