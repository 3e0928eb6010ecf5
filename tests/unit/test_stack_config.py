"""The named stacks of local services never share a port or a folder."""

from __future__ import annotations

import pytest

from devstack.config import StackConfig


def _ports(stack: StackConfig) -> set[int]:
    return {
        stack.postgres_port,
        stack.kafka_port,
        stack.kafka_controller_port,
        stack.aws_port,
        stack.redis_port,
    }


def test_the_dev_and_test_stacks_share_no_port_and_no_folder() -> None:
    dev, test = StackConfig(name="dev"), StackConfig(name="test")
    assert not _ports(dev) & _ports(test)
    assert dev.state_dir != test.state_dir
    assert not test.state_dir.is_relative_to(dev.state_dir / "kafka")


def test_a_port_override_exported_for_dev_does_not_move_the_test_stack(monkeypatch) -> None:
    monkeypatch.setenv("DEVSTACK_POSTGRES_PORT", "60000")
    assert StackConfig(name="dev").postgres_port == 60000
    assert StackConfig(name="test").postgres_port == 55532


def test_a_further_stack_needs_an_explicit_port_offset(monkeypatch) -> None:
    monkeypatch.delenv("DEVSTACK_PORT_OFFSET", raising=False)
    with pytest.raises(ValueError, match="DEVSTACK_PORT_OFFSET"):
        StackConfig(name="test-b")
    monkeypatch.setenv("DEVSTACK_PORT_OFFSET", "200")
    second = StackConfig(name="test-b")
    assert not _ports(second) & (_ports(StackConfig(name="dev")) | _ports(StackConfig(name="test")))


def test_only_the_dev_broker_keeps_records_forever() -> None:
    assert StackConfig(name="dev").kafka_retention_ms == -1
    assert StackConfig(name="test").kafka_retention_ms > 0


def test_this_test_session_runs_on_a_stack_other_than_dev(stack: StackConfig) -> None:
    assert stack.name != "dev"
    assert StackConfig(name="dev").postgres_port not in _ports(stack)
