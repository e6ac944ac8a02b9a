"""Packages import their modules on first use: `labnode get` starts without drivers or database."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["labnode.apps", "labnode.sockets", "labnode.storage"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_to_the_object_of_its_module(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        source = importlib.import_module(module._EXPORTS[name], package)
        assert value is getattr(source, name), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018


def test_the_command_line_and_the_client_load_no_drivers_no_database_no_servers():
    code = (
        "import sys, labnode.cli\n"
        "from labnode.sockets import DateDataClient\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    assert "labnode.sockets.client" in loaded
    for heavy in ("labnode.drivers", "labnode.storage", "sqlalchemy", "labnode.apps.node_app"):
        assert heavy not in loaded
    assert "labnode.sockets.server" not in loaded and "labnode.sockets.push_server" not in loaded
