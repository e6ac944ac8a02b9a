"""The README's examples run as written, and `labnode --version` has one source."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import labnode
from labnode.apps.config import tomllib  # tomli before Python 3.11
from labnode.cli import build_parser
from labnode.sockets import DateDataClient

from .conftest import free_udp_port, wait_for
from .node_process import NodeProcess, run_labnode

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_version_has_one_source():
    result = run_labnode("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"labnode {labnode.__version__}"
    from importlib.metadata import version

    assert version("labnode") == labnode.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_readme_nodes_do_not_take_the_demos_port():
    demo_port = build_parser().parse_args(["demo"]).port
    ports = [tomllib.loads(text).get("node", {}).get("port", 9000) for text in blocks("toml")]
    assert len(ports) >= 2
    assert demo_port not in ports
    assert len(set(ports)) == len(ports)  # following the README in order, nothing collides


def test_readme_psu_node_serves(tmp_path):
    text = blocks("toml")[0]
    assert 'type = "scpi"' in text
    config = tmp_path / "psu.toml"
    config.write_text(re.sub(r"(?m)^port = \d+", "port = 0", text))
    with NodeProcess("serve", str(config)) as node:
        client = DateDataClient("127.0.0.1", node.port, old_data="none")
        wait_for(lambda: (t := client.get_all()) and all(t.values()))
        code, err = node.stop(signal.SIGINT)
    assert code == 0, err


def test_serving_from_your_own_script_runs(tmp_path):
    (script,) = re.findall(r"```python\n(.*?)```", section("Serving from your own script"), re.S)
    port = free_udp_port()
    assert "port=9010" in script
    path = tmp_path / "own_script.py"
    path.write_text(script.replace("port=9010", f"port={port}"))
    process = subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when pytest itself runs in the background (`nohup
        # pytest &`): there SIGINT is ignored, Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        client = DateDataClient("127.0.0.1", port, old_data="none", timeout=0.5)
        point = wait_for(lambda: _ask(client, "load_5min"), timeout=15)
        assert point[1] >= 0
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave it running
            _, err = process.communicate(timeout=5)
            raise AssertionError(f"the script did not stop on SIGINT: {err}") from None
    assert process.returncode == 0, err
    assert "Traceback" not in err


def _ask(client, codename):
    try:
        return client.get(codename)
    except Exception:  # not serving yet
        return None
