"""An exercise with variables: each student's lab, instructions, checks and solution have their
own values, no two students share a subnet, the teacher's grid shows who got what, and a place
that breaks a draw is named when the exercise is added. No lab host needed."""

from __future__ import annotations

import copy
import ipaddress

import pytest
import yaml

from labs.classroom import attempts
from labs.classroom.draws import values_of
from labs.classroom.exercises import solution_of
from labs.classroom.models import Exercise
from labs.models import Lab
from labs.store.documents import save_document
from tests.labs.test_classroom import client_of, course, joined  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = """
wirelab: 1
name: varied-nat
description: A web server behind NAT on h1, on a LAN of your own.
networks:
  lan: {kind: segment, subnet: "{{lan}}"}
nodes:
  h1:
    kind: host
    interfaces: {eth0: {network: lan, address: "{{lan.11}}/{{lan.len}}"}}
  client:
    kind: host
    interfaces: {eth0: {network: lan, address: "{{lan.100}}/{{lan.len}}"}}
  web:
    kind: container
    host: h1
    image: wirelab/node:busybox
    mode: bridge
    command: [sh, -c, 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www']
exercise:
  title: Publish web on a port of your own
  instructions: "Publish web's port 80 as h1:{{port}}. Your LAN is {{lan}}."
  variables:
    lan: {subnet: 198.18.0.0/16, prefix: 24}
    port: {range: [10000, 10999]}
  checks:
    - name: the client reaches web through h1
      reach: {from: client, to: "h1:{{port}}", contains: published}
  locked: [h1, client]
  kinds: []
"""


def with_solution(text: str) -> str:
    """The exercise with its solution: web's port 80 published as the student's own port."""
    data = yaml.safe_load(text)
    solution = copy.deepcopy({k: v for k, v in data.items() if k != "exercise"})
    solution["nodes"] = {**solution["nodes"], "web": {**solution["nodes"]["web"], "ports": ["{{port}}:80"]}}
    data["exercise"]["solution"] = solution
    return yaml.safe_dump(data, sort_keys=False)


VARIED = with_solution(BASE)


def varied(course, teacher, text: str = VARIED):  # noqa: F811
    return client_of(teacher).post(
        f"/api/courses/{course.id}/exercises/", text, content_type="application/yaml"
    )


def test_each_student_has_their_own_values_everywhere(course, teacher):  # noqa: F811
    added = varied(course, teacher)
    assert added.status_code == 201, added.data
    exercise = Exercise.objects.get(id=added.data["id"])
    exported = yaml.safe_load(client_of(teacher).get(f"/api/exercises/{exercise.id}/export/").content)
    assert exported["networks"]["lan"]["subnet"] == "{{lan}}"  # the file as written, places and all

    labs, ports = {}, {}
    for name in ("sam", "kim", "lou"):
        student = joined(name, course)
        attempt, _ = attempts.start(exercise, student, deploy=False)
        drawn = values_of(exercise, student)
        lab = Lab.objects.get(id=attempt.lab_id)
        lan, port = ipaddress.ip_network(drawn["lan"]), int(drawn["port"])
        assert lab.document["networks"]["lan"]["subnet"] == str(lan)
        assert lab.document["nodes"]["h1"]["interfaces"]["eth0"]["address"] == f"{lan[11]}/24"
        shown = client_of(student).get(f"/api/exercises/{exercise.id}/").data
        assert f"h1:{port}" in shown["instructions"] and str(lan) in shown["instructions"]
        Lab.objects.filter(id=lab.id).update(status="running")
        planned = attempts.request_check(attempt, student, enqueue=False).params["checks"]
        assert planned[0]["to"] == f"h1:{port}"
        solution = solution_of(exercise, student)
        assert solution.nodes["web"].ports[0].host == port  # the student's own solution
        save_document(solution.model_copy(update={"name": lab.name}), student, lab)  # h1 as locked: theirs
        labs[name], ports[name] = lan, port
    assert not labs["sam"].overlaps(labs["kim"]) and not labs["kim"].overlaps(labs["lou"])
    assert not labs["sam"].overlaps(labs["lou"])

    grid = client_of(teacher).get(f"/api/courses/{course.id}/results/").data
    shown = {s["username"]: s["attempts"][str(exercise.id)]["variant"] for s in grid["students"]}
    assert shown["sam"] == {"lan": str(labs["sam"]), "port": str(ports["sam"])}


def test_a_place_that_breaks_a_draw_is_named(course, teacher):  # noqa: F811
    for place, said in [
        ("{{lan.300}}", "{{lan.300}}: a subnet's parts are len and 1 to 254"),
        ("{{nope}}", "{{nope}} names no variable of the exercise"),
    ]:
        response = varied(course, teacher, with_solution(BASE.replace("{{lan.11}}", place, 1)))
        assert response.status_code == 400 and said in str(response.data), response.data
        assert "nodes.h1.interfaces.eth0.address" in str(response.data)
    response = varied(course, teacher, VARIED.replace("prefix: 24", "prefix: 8"))
    assert response.status_code == 400 and "needs a prefix from 16 to 30" in str(response.data), response.data
