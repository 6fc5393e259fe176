import pytest

from tests.conftest import _make_user
from tests.workflow.conftest import JUNE, MAY, fake  # noqa: F401  (the fake backend fixture)

__all__ = ["JUNE", "MAY"]


@pytest.fixture
def deputy(django_user_model):
    """Someone with no approval role of their own, who stands in for an absent manager."""
    return _make_user(django_user_model, "deputy")


@pytest.fixture
def manager3(django_user_model):
    from invoices import roles

    return _make_user(django_user_model, "manager3", roles.MANAGERS)
