"""The worker's two metrics ports: a pair of free loopback ports outside the ephemeral range."""

from __future__ import annotations

import socket

import pytest

from stack import devstack


def test_a_pair_whose_second_port_is_taken_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = devstack.free_port_pair()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken + 1))  # what an unrelated process holds
        monkeypatch.setattr(devstack.random, "choice", lambda _ports: taken)  # the search starts at that pair
        port = devstack.free_port_pair()
        assert port != taken
        assert 20_000 <= port < port + 1 < 32_768  # below the range outgoing connections draw from
        for p in (port, port + 1):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))  # both bindable now
