from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CampaignFactory, LabelFactory, UserFactory

PASSWORD = "pass-word-1234"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness protects stored passwords, not test runs."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def marketer(db):
    return UserFactory(username="maya@example.com", roles=["Marketer"])


@pytest.fixture
def other_marketer(db):
    return UserFactory(username="omar@example.com", roles=["Marketer"])


@pytest.fixture
def approver(db):
    return UserFactory(username="ari@example.com", roles=["Approver"])


@pytest.fixture
def second_approver(db):
    return UserFactory(username="bea@example.com", roles=["Approver"])


@pytest.fixture
def admin(db):
    return UserFactory(username="ada@example.com", roles=["Admin"])


@pytest.fixture
def outsider(db):
    """Signed in, but with no Herald role: sees nothing."""
    return UserFactory(username="otto@example.com")


@pytest.fixture
def campaign_factory(db, marketer):
    def make(**kwargs):
        kwargs.setdefault("created_by", marketer)
        return CampaignFactory(**kwargs)

    return make


@pytest.fixture
def label_factory(db):
    return LabelFactory


@pytest.fixture
def api(marketer):
    client = APIClient()
    client.force_authenticate(marketer)
    return client


@pytest.fixture
def api_for():
    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def client_for():
    """A page client signed in as the user (or anonymous for None)."""

    def make(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def approval_on(admin):
    """Campaign approval switched on, as an Admin does it."""
    from approvals.services import approval_settings_update

    return approval_settings_update(actor=admin, enabled=True)


@pytest.fixture(autouse=True)
def _celery_tasks_in_process():
    """Tasks the code queues run in the test's process, at once (unit tests capture the
    on-commit callbacks that queue them). tests/integration start a real worker and publish
    through their own client app, which this leaves alone."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A transactional test without serialized_rollback ends with a flush that re-creates content
    types and permissions, and the next serialized_rollback test then fails to restore its own
    copy of them (duplicate keys): every transactional test here restores the migrations' rows."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and not marker.kwargs.get("serialized_rollback")
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, "
                "serialized_rollback=True) (see tests/conftest.py)"
            )
