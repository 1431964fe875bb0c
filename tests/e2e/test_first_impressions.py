"""What a newcomer meets, in a real browser at 1280x800: the front page, an empty account, a demo
opened from it (fitted, readable, accessible, with its addresses, minimap and find box), and a
500-node lab that stays light to live-update."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model

from labs.models import Lab
from labs.store.documents import save_document
from topology.document import LabDoc

from .conftest import outside_the_browser_loop, screenshot

pytestmark = pytest.mark.kernel

SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def cy(page, script: str):
    return page.evaluate(f"(() => {{ const cy = window.wirelab.cy; {script} }})()")


# Node labels (and a Docker host's title) that edges run across: each edge is followed along its
# drawn curve (straight, or cytoscape's quadratic pieces through its control points) and tested
# against every node label's box. Edges into the labelled node itself leave from its border on
# the side away from the label, so they count too.
LABELS_CROSSED = """
const boxes = cy.nodes().filter((n) => n.style('label')).map((n) => {
  const b = n.boundingBox({includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false});
  return {id: n.id(), b};
}).filter((x) => x.b.w > 0 && x.b.h > 0);
const inside = (p, b) => p.x > b.x1 + 1 && p.x < b.x2 - 1 && p.y > b.y1 + 1 && p.y < b.y2 - 1;
const path = (e) => {
  const s = e.sourceEndpoint(), t = e.targetEndpoint();
  const cps = e.controlPoints() || [];
  if (!cps.length) return [s, t];
  const pts = [];
  const anchors = [s];
  for (let i = 0; i < cps.length - 1; i++) anchors.push({x: (cps[i].x + cps[i + 1].x) / 2, y: (cps[i].y + cps[i + 1].y) / 2});
  anchors.push(t);
  for (let i = 0; i < cps.length; i++) {
    const a = anchors[i], c = cps[i], b = anchors[i + 1];
    for (let k = 0; k <= 20; k++) {
      const u = k / 20;
      pts.push({x: (1-u)*(1-u)*a.x + 2*(1-u)*u*c.x + u*u*b.x, y: (1-u)*(1-u)*a.y + 2*(1-u)*u*c.y + u*u*b.y});
    }
  }
  return pts;
};
const crossed = [];
cy.edges().forEach((e) => {
  const pts = path(e);
  for (const {id, b} of boxes) {
    let hit = false;
    for (let i = 0; i < pts.length - 1 && !hit; i++) {
      const n = Math.max(2, Math.ceil(Math.hypot(pts[i+1].x - pts[i].x, pts[i+1].y - pts[i].y) / 2));
      for (let k = 0; k <= n && !hit; k++) {
        const p = {x: pts[i].x + (pts[i+1].x - pts[i].x) * k / n, y: pts[i].y + (pts[i+1].y - pts[i].y) * k / n};
        hit = inside(p, b);
      }
    }
    if (hit) crossed.push(`${e.id()} crosses the label of ${id}`);
  }
});
return crossed;
"""


# Nodes that a cable runs through (not its own ends, nor the Docker hosts that hold them), and
# nodes under the minimap in its corner.
NODES_CROSSED = """
const path = (e) => [e.sourceEndpoint(), e.targetEndpoint()];
const crossed = [];
const leaves = cy.nodes().filter((n) => !n.isParent());
cy.edges().forEach((e) => {
  const ends = e.source().union(e.target());
  const mine = ends.union(ends.ancestors());
  const [a, b] = path(e);
  leaves.union(cy.nodes(':parent')).forEach((n) => {
    if (mine.has(n)) return;
    const box = n.boundingBox({includeLabels: false, includeOverlays: false});
    const steps = Math.max(2, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / 2));
    for (let k = 0; k <= steps; k++) {
      const p = {x: a.x + (b.x - a.x) * k / steps, y: a.y + (b.y - a.y) * k / steps};
      if (p.x > box.x1 + 1 && p.x < box.x2 - 1 && p.y > box.y1 + 1 && p.y < box.y2 - 1) {
        crossed.push(`${e.id()} runs through ${n.id()}`);
        return;
      }
    }
  });
});
const map = document.querySelector('#minimap').getBoundingClientRect();
const canvas = document.querySelector('#canvas').getBoundingClientRect();
cy.nodes().forEach((n) => {
  const b = n.renderedBoundingBox({includeLabels: true});
  const x1 = b.x1 + canvas.left, x2 = b.x2 + canvas.left, y1 = b.y1 + canvas.top, y2 = b.y2 + canvas.top;
  if (x2 > map.left && x1 < map.right && y2 > map.top && y1 < map.bottom) crossed.push(`${n.id()} is under the minimap`);
});
return crossed;
"""


def test_the_exercise_labs_open_uncovered_and_uncrossed(browser_page):
    """Each demo exercise as a student first sees it: every node inside the canvas, none under
    the minimap, no cable through a node or a label, no drawer open over the diagram."""
    page = browser_page

    def start_each() -> list[int]:
        from labs.classroom import attempts
        from labs.classroom.courses import create_course
        from labs.classroom.roles import make_teacher

        eve = get_user_model().objects.get(username="eve")
        make_teacher(eve)
        course = create_course("Geometry", eve, from_demo=True)
        return [attempts.start(e, eve, deploy=False)[0].lab_id for e in course.exercises.order_by("order")]

    for lab_id in outside_the_browser_loop(start_each):
        page.goto(f"{page.base}/labs/{lab_id}/")
        page.wait_for_selector("#exercise .check")
        page.wait_for_function(
            "document.querySelector('#save-state').textContent === 'saved'", timeout=30_000
        )
        outside = cy(
            page,
            "return cy.nodes().filter((n) => { const b = n.renderedBoundingBox({includeLabels: true});"
            " return b.x1 < 0 || b.y1 < 0 || b.x2 > cy.width() || b.y2 > cy.height(); }).map((n) => n.id());",
        )
        name = page.inner_text(".lab-name")
        screenshot(page, f"exercise-{name.split(' ')[0]}")
        assert outside == [], name
        assert cy(page, LABELS_CROSSED) == [], name
        assert cy(page, NODES_CROSSED) == [], name
        assert page.locator("#bottom.open").count() == 0, name
        assert page.locator("#toolbar").bounding_box()["height"] < 48, name


def test_front_page_empty_account_and_a_demo_opened_from_it(browser_page):
    page = browser_page
    visitor = page.context.browser.new_page(viewport={"width": 1280, "height": 800})  # not signed in
    visitor.goto(f"{page.base}/")
    assert visitor.is_visible("img[alt^='A running lab']") and visitor.is_visible("text=Bridge mode")
    screenshot(visitor, "front-page")
    assert serious_violations(visitor) == []
    visitor.close()

    page.goto(f"{page.base}/")
    assert page.is_visible("text=No labs yet")
    screenshot(page, "empty-account")
    assert serious_violations(page) == []

    page.click("#demo-docker-modes")
    page.wait_for_function("window.wirelab && window.wirelab.cy && window.wirelab.cy.nodes().length > 5")
    page.wait_for_function("document.querySelector('#save-state').textContent === 'saved'", timeout=30_000)

    # the toolbar is one line at this size: the canvas does not shrink when a status reason shows
    assert page.locator("#toolbar").bounding_box()["height"] < 48

    # fitted on open: every node inside the canvas
    outside = cy(
        page,
        "const w = cy.width(), h = cy.height();"
        "return cy.nodes().filter((n) => { const b = n.renderedBoundingBox({includeLabels: true});"
        " return b.x1 < 0 || b.y1 < 0 || b.x2 > w || b.y2 > h; }).map((n) => n.id());",
    )
    assert outside == []
    assert cy(page, LABELS_CROSSED) == []

    # interface names and addresses at the cable ends, written or handed out; a toggle hides them
    lab = outside_the_browser_loop(lambda: Lab.objects.get(name="docker-modes"))
    ends = cy(
        page,
        "return [cy.getElementById('if:h1:eth0').style('source-label'),"
        " cy.getElementById('ov:app-1').style('source-label'), cy.getElementById('b:nginx-2').style('source-label')];",
    )
    assert ends == ["eth0\n198.18.0.11/24", lab.assignments["containers"]["app-1"],
                    lab.assignments["containers"]["nginx-2"]]  # fmt: skip
    assert page.get_attribute("#ends", "aria-pressed") == "true"
    page.click("#ends")
    assert page.get_attribute("#ends", "aria-pressed") == "false"
    assert cy(page, "return cy.getElementById('if:h1:eth0').style('source-label');") == ""
    page.click("#ends")

    # the minimap moves the view; the find box jumps to a node and selects it
    pan_before = cy(page, "return cy.pan();")
    box = page.locator("#minimap").bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + 10)
    assert cy(page, "return cy.pan();") != pan_before
    page.fill("#find", "app-d")
    page.press("#find", "Enter")
    page.wait_for_function("window.wirelab.selection && window.wirelab.selection.name === 'app-dyn'")
    assert page.inner_text("#panel h2") == "container app-dyn"
    page.wait_for_function(
        "(() => { const b = window.wirelab.cy.getElementById('n:app-dyn').renderedBoundingBox();"
        " const cy = window.wirelab.cy; return b.x1 >= 0 && b.y1 >= 0 && b.x2 <= cy.width() && b.y2 <= cy.height(); })()"
    )

    # the palette works from the keyboard
    page.focus("#palette .item:text-is('Router')")
    page.keyboard.press("Enter")
    page.wait_for_function("'r1' in window.wirelab.model.doc.nodes")
    page.keyboard.press("Delete")
    page.wait_for_function("!('r1' in window.wirelab.model.doc.nodes)")

    # a problem in the panel leads to its element
    page.evaluate("window.wirelab.select(null)")
    page.evaluate(
        "window.wirelab.problems = [{path: 'nodes.client.interfaces.eth0', message: 'example', severity: 'warning'}];"
        "window.wirelab.renderPanel()"
    )
    page.click("#panel button.path")
    assert page.evaluate("window.wirelab.selection") == {"type": "node", "name": "client"}

    page.wait_for_timeout(500)  # the find box's and the problem link's moves end
    page.click("#fit")
    screenshot(page, "docker-modes-before-deploy")
    assert serious_violations(page) == []

    for demo, drawn in (
        ("routed", 5),
        ("ospf-triangle", 9),
        ("bgp-two-as", 6),
        ("cni", 10),
        ("load-balancing", 10),
        ("orchestrator", 9),
    ):  # the others: fitted, no label crossed
        page.goto(f"{page.base}/")
        page.click(f"#demo-{demo}")
        page.wait_for_function(
            f"window.wirelab && window.wirelab.cy && window.wirelab.cy.nodes().length === {drawn}"
        )
        outside = cy(
            page,
            "return cy.nodes().filter((n) => { const b = n.renderedBoundingBox({includeLabels: true});"
            " return b.x1 < 0 || b.y1 < 0 || b.x2 > cy.width() || b.y2 > cy.height(); }).length;",
        )
        assert outside == 0, demo
        assert cy(page, LABELS_CROSSED) == [], demo
        screenshot(page, f"demo-{demo}")


def test_a_500_node_lab_opens_and_a_live_change_restyles_only_its_element(browser_page):
    page = browser_page
    eve = outside_the_browser_loop(lambda: get_user_model().objects.get(username="eve"))
    lab = outside_the_browser_loop(lambda: save_document(big_lab(500), eve)[0])
    page.goto(f"{page.base}/labs/{lab.id}/")
    page.wait_for_function("window.wirelab && window.wirelab.cy && window.wirelab.cy.nodes().length >= 500",
                           timeout=60_000)  # fmt: skip
    assert page.get_attribute("#ends", "aria-pressed") == "false"  # addresses on demand at this size
    assert cy(page, "return cy.renderer().textureOnViewport && cy.renderer().hideEdgesOnViewport;")
    outside = cy(
        page,
        "const w = cy.width(), h = cy.height(); const b = cy.elements().renderedBoundingBox();"
        "return b.x1 < -1 || b.y1 < -1 || b.x2 > w + 1 || b.y2 > h + 1;",
    )
    assert not outside
    screenshot(page, "lab-500-nodes")

    # every node running, then one fails: only that node's look changes
    restyled = page.evaluate(
        """() => {
        const w = window.wirelab; const names = Object.keys(w.model.doc.nodes);
        const state = {...w.live, status: {status: 'running', reason: ''}, nodes: {}, links: {}};
        for (const n of names) state.nodes[n] = {state: 'running'};
        window.wirelabParts.liveView.onLive(state);
        let count = 0; const count_ = () => count++;
        w.cy.on('style', count_);
        const next = {...state, nodes: {...state.nodes, [names[7]]: {state: 'exited'}}};
        window.wirelabParts.liveView.onLive(next);
        w.cy.removeListener('style', count_);
        return [count, w.cy.getElementById('n:' + names[7]).hasClass('exited'), w.cy.nodes('.running').length];
      }"""
    )
    assert restyled == [1, True, 499]


def big_lab(n: int) -> LabDoc:
    """`n` nodes: routers in a ring of switches, each switch with end hosts (no positions: the
    editor lays it out)."""
    nodes, links = {}, []
    switches = n // 10
    for s in range(switches):
        nodes[f"sw{s}"] = {"kind": "switch"}
        links.append({"endpoints": [f"sw{s}:p0", f"sw{(s + 1) % switches}:p1"]})
        for h in range(9):
            name = f"h{s}-{h}"
            nodes[name] = {"kind": "host"}
            links.append({"endpoints": [f"{name}:eth0", f"sw{s}:p{h + 2}"]})
    return LabDoc.model_validate({"name": f"big-{n}", "nodes": nodes, "links": links})
