"""The image policy: the first matching rule decides, aliases run a stand-in, others are refused."""

from topology.compiler import compile_lab
from topology.document import read_document
from topology.images import Allowed, ImagePolicy, with_tag
from topology.validation import validate

POLICY = ImagePolicy((
    Allowed("wirelab/*"), Allowed("alpine:*", "wirelab/node:busybox"), Allowed("nginx:1.*"),
))  # fmt: skip

LAB = """
name: images
nodes:
  h1: {kind: host}
  r1: {kind: router, image: alpine}
  web: {kind: container, host: h1, image: IMAGE}
"""


def test_tags_are_implied_and_the_first_matching_rule_decides():
    assert with_tag("alpine") == "alpine:latest" and with_tag("reg:5000/x") == "reg:5000/x:latest"
    assert with_tag("x@sha256:ab") == "x@sha256:ab"
    assert POLICY.allows("wirelab/node:busybox") and POLICY.allows("alpine") and POLICY.allows("nginx:1.25")
    assert not POLICY.allows("nginx:latest") and not POLICY.allows("evil/wirelab/x")
    assert POLICY.image_for("alpine:3.19") == "wirelab/node:busybox"
    assert POLICY.image_for("nginx:1.25") == "nginx:1.25"


def test_a_refused_image_is_an_error_on_the_node_and_an_alias_runs_its_stand_in():
    problems = validate(read_document(LAB.replace("IMAGE", "nginx:latest")), images=POLICY)
    assert [(p.path, p.severity) for p in problems] == [("nodes.web.image", "error")]
    assert (
        "image 'nginx:latest' is not allowed on this installation; allowed: wirelab/*, "
        in problems[0].message
    )
    assert "alpine:* (as wirelab/node:busybox)" in problems[0].message
    assert validate(read_document(LAB.replace("IMAGE", "nginx:latest"))) == []  # no policy: any image

    doc = read_document(LAB.replace("IMAGE", "nginx:1.25"))
    spec = compile_lab(doc, "img1", "local", images=POLICY)[0]["local"]
    images = {node.name: node.image for node in [*spec.sandboxes, *spec.apps]}
    assert images == {"h1": "wirelab/node:busybox", "r1": "wirelab/node:busybox", "web": "nginx:1.25"}
    assert doc.nodes["r1"].image == "alpine"  # the document keeps what its author wrote
