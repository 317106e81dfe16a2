"""Service ports: free loopback ports outside the ephemeral range, never handed out twice by one process."""

from __future__ import annotations

import socket

import pytest

from stack import devstack

EPHEMERAL_START = 32_768  # Linux's default ip_local_port_range: where outgoing connections take their ports


def test_a_pair_whose_second_port_is_taken_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = devstack.free_port_pair()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken + 1))  # what an unrelated process holds
        monkeypatch.setattr(devstack, "_handed_out", set())  # as if another process had chosen `taken`
        monkeypatch.setattr(devstack.random, "randrange", lambda *_: taken)  # the search starts at that pair
        port = devstack.free_port_pair()
        assert port != taken
        assert 20_000 <= port < port + 1 < EPHEMERAL_START
        for p in (port, port + 1):
            with socket.socket() as s:
                s.bind(("127.0.0.1", p))  # both bindable now


def test_ports_are_never_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    first = devstack.free_port()
    monkeypatch.setattr(devstack.random, "randrange", lambda *_: first)  # every search starts at the same port
    ports = [first, *(devstack.free_port() for _ in range(20))]
    assert len(set(ports)) == len(ports)  # none bound yet, still all different
    assert max(ports) < EPHEMERAL_START
