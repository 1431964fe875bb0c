"""An editor save of a 100-node lab: the document replaced as the editor does (PUT
/api/labs/ID/document/), timed in-process against a throwaway SQLite database.

Run: .venv/bin/python -m bench.editor_save [--nodes 100] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time


def chain(n: int, shift: int = 0) -> str:
    nodes = "".join(f"  r{i}: {{kind: router, position: {{x: {i * 10 + shift}, y: 0}}}}\n" for i in range(n))
    links = "".join(
        f"  - {{endpoints: [r{i}:eth1, r{i + 1}:eth0], subnet: 198.18.{i // 64}.{(i % 64) * 4}/30}}\n"
        for i in range(n - 1)
    )
    return f"name: chain-{n}\nnodes:\n{nodes}links:\n{links}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    state = tempfile.mkdtemp()
    os.environ.update(WIRELAB_STATE_DIR=state, DATABASE_URL=f"sqlite:///{state}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labs.labfiles import import_lab, replace_lab

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench")
    lab, _ = import_lab(chain(args.nodes), user)
    times = []
    for round_ in range(args.rounds):
        text = chain(args.nodes, shift=round_ + 1)  # a node moved: what most editor saves are
        start = time.perf_counter()
        replace_lab(lab, text)
        times.append((time.perf_counter() - start) * 1000)
    print(f"editor save of a {args.nodes}-node lab: median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, {args.rounds} rounds)")  # fmt: skip
    sys.exit(0)


if __name__ == "__main__":
    main()
