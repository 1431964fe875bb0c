"""`manage.py lab ...` and `manage.py bootstrap`: the same services as the API."""

import io
import sys

import pytest
import yaml
from django.core.management import call_command

from labs.models import Lab
from tests.conftest import DEMOS, FIXTURES

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def test_import_list_export_round_trip(user):
    code, out, err = run("lab", "import", str(DEMOS / "docker-modes.yaml"), "--owner", "alice")
    assert code == 0
    assert "imported docker-modes as docker-modes (10 nodes)" in out
    assert "warning: nodes.nginx-1b.ports[0]" in err
    code, out, _ = run("lab", "list")
    assert "docker-modes" in out and "draft" in out and "alice" in out
    code, exported, _ = run("lab", "export", "docker-modes")
    assert yaml.safe_load(exported) == yaml.safe_load(run("lab", "export", "docker-modes", "--json")[1])
    code, out, _ = run("lab", "import", "-", "--owner", "alice", "--replace", stdin=exported)
    assert code == 0
    assert Lab.objects.count() == 1


def test_a_kathara_folder_imports_and_labs_export_for_peers(user, tmp_path):
    from tests.topology.test_kathara import OSPF_LAB

    folder = tmp_path / "ospf"
    for name, data in OSPF_LAB.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data.replace(b"kathara/frr", b"kathara/base"))
    code, out, err = run("lab", "import", str(folder), "--owner", "alice")
    assert code == 0, err
    assert "imported ospf-triangle as ospf-triangle (4 nodes)" in out
    assert "r1/etc/frr/frr.conf" in err
    run("lab", "import", str(DEMOS / "routed.yaml"), "--owner", "alice")
    code, out, _ = run("lab", "export", "routed", "--as", "containerlab")
    assert code == 0 and yaml.safe_load(out)["topology"]["nodes"]["r1"]["kind"] == "linux"


def test_validate_prints_one_problem_a_line_and_exits_1():
    code, out, _ = run("lab", "validate", str(FIXTURES / "broken-many.yaml"))
    assert code == 1
    lines = out.strip().splitlines()
    assert (
        "error: nodes.web2.ports[0]: host port 10000 on host h1 is already published by nodes.web1" in lines
    )
    assert len(lines) >= 8


def test_validate_clean_file_exits_0():
    code, out, _ = run("lab", "validate", str(DEMOS / "routed.yaml"))
    assert (code, out.strip()) == (0, "valid (0 warnings)")


def test_import_of_a_broken_file_exits_1_and_stores_nothing(user):
    code, _, err = run("lab", "import", str(FIXTURES / "broken-many.yaml"), "--owner", "alice")
    assert code == 1
    assert "no node named 'ghost'" in err
    assert not Lab.objects.exists()


def test_missing_file_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"cannot read /nonexistent\.yaml"):
        call_command("lab", "validate", "/nonexistent.yaml")


def test_bootstrap_creates_admin_once_and_loads_demos(settings, tmp_path):
    settings.STATE_DIR = tmp_path
    code, out, _ = run("bootstrap")
    assert code == 0
    assert "Created the admin account: user admin, password" in out
    assert (tmp_path / "admin-password").exists()
    demos = {
        "docker-modes",
        "routed",
        "ospf-triangle",
        "bgp-two-as",
        "cni-plugins",
        "load-balancing",
        "orchestrator",
    }
    assert set(Lab.objects.values_list("slug", flat=True)) == demos
    assert "demo course loaded: students join at /join/ with the code" in out
    from labs.classroom.models import Course

    course = Course.objects.get()
    assert course.exercises.count() == 6 and course.members.get().user.username == "admin"
    code, out, _ = run("bootstrap")
    assert "Created the admin account" not in out
    assert Lab.objects.count() == len(demos) and Course.objects.count() == 1
