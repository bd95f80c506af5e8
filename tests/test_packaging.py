"""Packaging without a container engine: the package's imports are all declared dependencies, the
Dockerfile says what the issue asks for and shares its model step with scripts/check_install.sh
(which CI runs: the wheel in a clean virtualenv, then serve and answer), and the office compose file
sits beside the Milvus one without changing it."""

import re
import subprocess
import sys

import yaml
from conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_every_import_is_a_declared_dependency():
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_imports.py"), "--src",
                          str(ROOT / "src" / "pudong_qa")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_the_dockerfile():
    assert re.search(r"^FROM python:3\.11-slim\b", DOCKERFILE, re.M)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pinned = re.search(r"pip install --quiet (torch==[\d.]+)", makefile).group(1)
    assert re.search(rf"^RUN pip install {re.escape(pinned)} --index-url https://download.pytorch.org/whl/cpu$",
                     DOCKERFILE, re.M)  # the CPU build, pinned as in the Makefile, before the wheel
    assert DOCKERFILE.index(pinned) < DOCKERFILE.index("pudong_qa-*.whl")
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and user[-1] not in ("root", "0")
    model = re.search(r'^RUN python -c "(.*)" +# model$', DOCKERFILE, re.M)
    assert model and "load_model" in model.group(1) and DOCKERFILE.index("USER") < model.start()
    assert "sed -n 's/^RUN python -c" in (ROOT / "scripts" / "check_install.sh").read_text(encoding="utf-8")
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", DOCKERFILE, re.M)
    volumes = re.search(r"^VOLUME (\[.*\])", DOCKERFILE, re.M).group(1)
    assert all(v in volumes for v in ("/corpus", "/index", "/data"))
    assert 'CMD ["serve"]' in DOCKERFILE and "PUDONG_QA_HOST=0.0.0.0" in DOCKERFILE


def test_compose_files():
    office = yaml.safe_load((ROOT / "compose.office.yml").read_text(encoding="utf-8"))
    service = office["services"]["pudong-qa"]
    assert service["build"] == "." and service["environment"]["PUDONG_QA_HOST"] == "0.0.0.0"
    assert service["environment"]["PUDONG_QA_REQUIRE_SIGNIN"] == "1"
    assert {v.split(":")[1] for v in service["volumes"]} == {"/srv/pudong-qa/corpus", "/srv/pudong-qa/index",
                                                             "/srv/pudong-qa/data"}
    milvus = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert set(milvus["services"]) == {"etcd", "minio", "standalone"}  # the Milvus server, untouched


def test_ci_runs_the_install_check():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [x.strip() for x in ci.splitlines()]
    assert lines.index("make test") < lines.index("bash scripts/check_install.sh")
