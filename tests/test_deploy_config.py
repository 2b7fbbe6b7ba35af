"""Deploying as the repository stands: the Hugging Face Space header, the Dockerfile and the hosts' files agree.

A Space reads its configuration from the YAML block at the top of README.md; pushing a README
without one replaces the header the Space was created with, and the Space stops building.
"""

import re

import yaml

from tests.conftest import ROOT


def _space_header() -> dict:
    text = (ROOT / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.S)
    assert match, "README.md must open with the Space's YAML header between --- lines"
    return yaml.safe_load(match.group(1))


def test_the_readme_carries_a_docker_space_header():
    header = _space_header()
    assert header["sdk"] == "docker"
    assert isinstance(header["app_port"], int)
    assert header["title"] and header["emoji"]
    assert header["colorFrom"] in {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert header["colorTo"] in {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert len(header.get("short_description", "")) <= 60  # the Hub's limit
    body = (ROOT / "README.md").read_text().split("\n---\n", 1)[1]
    assert body.lstrip().startswith("# NeuroTunes")


def test_app_port_expose_and_server_port_agree():
    port = _space_header()["app_port"]
    docker = (ROOT / "Dockerfile").read_text()
    exposed = re.findall(r"^EXPOSE\s+(\d+)", docker, flags=re.M)
    assert exposed == [str(port)]
    cmd = re.search(r"^CMD\s+(\[.*\])", docker, flags=re.M)
    assert cmd, "the Dockerfile needs a CMD"
    served = re.findall(r"--server\.port[= ](\d+)", cmd.group(1))
    assert served == [str(port)]
    assert "--server.address=0.0.0.0" in cmd.group(1)  # reachable from outside the container


def test_community_cloud_finds_its_files():
    packages = (ROOT / "packages.txt").read_text().split()
    assert {"fluidsynth", "fluid-soundfont-gm", "ffmpeg"} <= set(packages)
    assert (ROOT / "app.py").is_file() and (ROOT / "requirements.txt").is_file()
