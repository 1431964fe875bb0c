"""Share links in a real browser: the owner makes a presenting view link in the editor; an
anonymous browser opens it, sees the running lab, sees the owner pull a cable and follows
the owner's selection, has no control at all, and is shut out when the link is revoked.
A clone link copies the lab into the visitor's own labs."""

import re

import pytest
from django.contrib.auth import get_user_model

from labs.labfiles import import_lab
from labs.models import Lab
from tests.labs.live_helpers import TWO_ROUTERS

from .conftest import CHROMIUM, CHROMIUM_ARGS, outside_the_browser_loop, screenshot

pytestmark = pytest.mark.kernel


def deployed_lab(page, text: str = TWO_ROUTERS, nodes: int = 2) -> Lab:
    """Eve's lab (two routers), deployed from her editor; the page is left on the editor."""
    eve = outside_the_browser_loop(lambda: get_user_model().objects.get(username="eve"))
    lab, _ = outside_the_browser_loop(lambda: import_lab(text, eve))
    page.goto(f"{page.base}/labs/{lab.id}/")
    page.wait_for_function(f"window.wirelab && window.wirelab.cy.nodes().length === {nodes}")
    page.click("#deploy")
    page.wait_for_function("document.querySelector('#status').textContent === 'running'", timeout=90_000)
    return lab


def make_link(page, mode: str, present: bool = False) -> str:
    page.click("#share-open")
    page.fill("#share-form input[name=label]", f"{mode} link")
    page.select_option("#share-form select[name=mode]", mode)
    if present:
        page.check("#share-form input[name=present]")
    page.click("#share-create")
    page.wait_for_selector("#share-url")
    return page.inner_text("#share-url").strip()


def test_an_anonymous_viewer_watches_a_running_lab_until_the_link_is_revoked(browser_page):
    owner = browser_page
    deployed_lab(owner)
    url = make_link(owner, "view", present=True)
    assert re.fullmatch(rf"{owner.base}/s/#[\w-]{{32}}", url), url
    owner.wait_for_selector("#share-links td:has-text('view link')")

    errors: list[str] = []
    anonymous = owner.context.browser.new_context(viewport={"width": 1100, "height": 700})
    viewer = anonymous.new_page()
    viewer.on("pageerror", lambda e: errors.append(str(e)))
    try:
        viewer.goto(url)
        viewer.wait_for_function(
            "window.wirelab && window.wirelab.cy && window.wirelab.cy.nodes().length === 2"
        )
        assert viewer.inner_text("#owner") == "shared by eve"
        viewer.wait_for_function("window.wirelab.cy.getElementById('l:0').hasClass('up')", timeout=60_000)
        # no way to change anything: no deploy, console, edit or control on the page
        assert viewer.locator("#deploy, #destroy, #palette, #terminal, #share-open").count() == 0
        viewer.wait_for_function("window.wirelab.cy.nodes().every((n) => !n.grabbable())")
        owner.wait_for_function(
            "document.querySelector('#share-links .viewers').textContent === '1'", timeout=30_000
        )

        # the owner pulls the cable: the viewer sees it go down
        owner.evaluate("window.wirelab.api.cable('a', 'eth1', false)")
        viewer.wait_for_function("window.wirelab.cy.getElementById('l:0').hasClass('down')", timeout=60_000)
        # the owner selects a router: the viewer follows, and its panel shows it read-only
        owner.evaluate("window.wirelab.cy.getElementById('n:b').select()")
        viewer.wait_for_function("window.wirelab.cy.getElementById('n:b').selected()", timeout=30_000)
        viewer.wait_for_selector("#panel h2:has-text('router b')")
        assert viewer.locator("#panel button").count() == 0
        assert viewer.locator("#panel input:not([disabled])").count() == 0
        assert (
            viewer.locator("#panel .live").count() == 1
            and viewer.locator("#panel section.trace").count() == 0
        )
        screenshot(viewer, "shared-view")

        # revoked: the open view closes and the link answers no more
        owner.once("dialog", lambda dialog: dialog.accept())  # "Revoke this link?"
        owner.click("#share-links button[data-revoke]")
        viewer.wait_for_selector("#panel h2:has-text('Not available')", timeout=30_000)
        assert viewer.evaluate("window.wirelab.cy.nodes().length") == 0
        again = anonymous.new_page()
        again.goto(url)
        again.wait_for_selector("#panel h2:has-text('Not available')", timeout=30_000)
    finally:
        anonymous.close()
    assert errors == []


def test_a_clone_link_copies_the_lab_into_the_visitors_labs(browser_page):
    page = browser_page
    lab = deployed_lab(page)
    url = make_link(page, "view+clone")
    page.goto(url)
    page.wait_for_selector("#clone:not([hidden])")
    page.click("#clone")
    page.wait_for_url(re.compile(r".*/labs/\d+/$"), timeout=30_000)
    copy = outside_the_browser_loop(lambda: Lab.objects.select_related("owner").exclude(id=lab.id).get())
    outside_the_browser_loop(lab.refresh_from_db)
    assert copy.owner.username == "eve" and copy.status == "draft"
    assert copy.document == lab.document and copy.assignments == lab.assignments
    assert page.url.endswith(f"/labs/{copy.id}/")


def test_nothing_is_leaked_to_a_browser_without_the_whole_link(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{server}/s/")
        page.wait_for_selector("#panel h2:has-text('Not available')")
        assert "incomplete" in page.inner_text("#panel")
        page.goto(f"{server}/s/#{'x' * 32}")
        page.reload()
        page.wait_for_selector("#panel h2:has-text('Not available')")
        assert "does not exist" in page.inner_text("#panel")
        browser.close()
