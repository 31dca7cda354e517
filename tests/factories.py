from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from campaigns.choices import Status
from campaigns.models import Campaign
from labels.models import Label


def push_what(title: str = "Hello {{ profile.first_name | default('there') }}") -> dict[str, Any]:
    return {"message": {"title": title, "body": "Your weekly digest is ready."}}


def later_when(days: int = 7) -> dict[str, Any]:
    start = (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0)
    return {"send": "later", "start_at": start.isoformat(), "timezone": "UTC"}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.PostGenerationMethodCall("set_password", "pass-word-1234")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        for name in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=name)[0])


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    name = factory.Sequence(lambda n: f"Label {n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign in any state, written directly: for setting up tests, never for behaviour."""

    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "push"
    type = "single_message"
    delivery = "one_time"
    status = Status.DRAFT
    what = factory.LazyFunction(push_what)
    when = factory.LazyFunction(later_when)
    created_by = factory.SubFactory(UserFactory, roles=["Marketer"])
    last_active_at = factory.LazyFunction(timezone.now)
