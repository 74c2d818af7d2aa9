"""One teacher interface: every teacher the graph, the bench and the tests use is a ``Teacher`` with its signatures."""

from __future__ import annotations

import inspect

import pytest

from ioa.bench.oracle import OracleTeacher
from ioa.bench.trial import CappedTeacher
from ioa.teacher import Teacher
from ioa.teacher.client import ChatTeacher

METHODS = ("run", "snapshot", "usage_since")


@pytest.mark.parametrize("implementation", [ChatTeacher, OracleTeacher, CappedTeacher])
def test_every_teacher_takes_the_protocols_arguments(implementation: type) -> None:
    assert Teacher in implementation.__mro__  # declared, so a type checker holds it to the protocol
    for name in METHODS:
        want = inspect.signature(getattr(Teacher, name))
        have = inspect.signature(getattr(implementation, name))
        assert list(have.parameters.values()) == list(want.parameters.values()), f"{implementation.__name__}.{name}"
