"""The Django admin shows requests and the setting's history, and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals import services as approvals
from tests.approvals.support import approval_on
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MODELS = ("approvalrequest", "approvalsettings", "approvalsettingschange")


@pytest.fixture
def staff_client(client, admin):
    root = UserFactory(username="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_lists_and_shows_but_does_not_change(
    staff_client, admin, marketer, campaign_factory, model
):
    approval_on(admin)
    request = approvals.campaign_submit(actor=marketer, campaign_id=campaign_factory().pk)
    pk = {"approvalrequest": request.pk, "approvalsettings": 1}.get(model)

    listed = staff_client.get(reverse(f"admin:approvals_{model}_changelist"))

    assert listed.status_code == 200
    assert staff_client.get(reverse(f"admin:approvals_{model}_add")).status_code == 403
    if pk is not None:
        shown = staff_client.get(reverse(f"admin:approvals_{model}_change", args=[pk]))
        assert shown.status_code == 200
        deleted = staff_client.post(reverse(f"admin:approvals_{model}_delete", args=[pk]))
        assert deleted.status_code == 403
