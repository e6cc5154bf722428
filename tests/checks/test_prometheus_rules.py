"""deploy/prometheus/paystate-rules.yml is valid Prometheus (``promtool check rules``, from
Debian's ``prometheus`` package, which .ci/run installs) and names only metrics that /metrics
exposes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from paystate.engine.metrics import Metrics
from tests.support import ROOT

RULES = os.path.join(ROOT, "deploy", "prometheus", "paystate-rules.yml")


@pytest.mark.skipif(not shutil.which("promtool"),
                    reason="promtool missing: apt-get install -y prometheus")
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_name_metrics_that_exist() -> None:
    exposed = {sample.name for family in Metrics().registry.collect()
               for sample in family.samples} | {
        family.name for family in Metrics().registry.collect()}
    with open(RULES) as f:
        named = set(re.findall(r"\b(paystate_[a-z_]+)", f.read()))
    assert named and named <= exposed | {n + "_total" for n in exposed}, named - exposed
