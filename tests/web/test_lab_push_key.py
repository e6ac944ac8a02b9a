"""The lab file's `push` key of a node (where `labnode web` sends writes)."""

from __future__ import annotations

import pytest

from labnode.apps.config import ConfigError
from labnode.apps.lab_config import parse_lab
from labnode.apps.web.from_lab import targets_from_lab


@pytest.mark.parametrize(
    "text, push",
    [
        ("127.0.0.1", ("127.0.0.1", 8500)),
        ("127.0.0.1:8600", ("127.0.0.1", 8600)),
        ("::1", ("::1", 8500)),
        ("[::1]:8600", ("::1", 8600)),
    ],
)
def test_push_addresses(text, push):
    lab = parse_lab(f'[[nodes]]\naddress = "127.0.0.1"\npush = "{text}"\n')
    assert lab.nodes[0].push == push
    assert targets_from_lab(lab)[0].push == push


def test_no_push_key_means_no_writes_to_that_node():
    lab = parse_lab('[[nodes]]\naddress = "127.0.0.1:9001"\n')
    assert targets_from_lab(lab)[0].push is None


@pytest.mark.parametrize("text", ["1.2.3", "127.0.0.1:99999", ""])
def test_a_bad_push_address_names_the_key(text):
    with pytest.raises(ConfigError) as error:
        parse_lab(f'[[nodes]]\naddress = "127.0.0.1"\npush = "{text}"\n', "lab.toml")
    message = str(error.value)
    assert "nodes[0].push" in message and "lab.toml" in message and "port 8500" in message
