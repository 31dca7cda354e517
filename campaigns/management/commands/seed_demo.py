"""`manage.py seed_demo`: the demo workspace `make run` starts with.

One user per role (all with DEMO_PASSWORD), a few message labels, and 37 campaigns that cover every
channel, campaign type, delivery type and status, some archived and some last active months ago,
then the demo audience (audience/demo.py: profiles, events, and the campaigns' sends).

Campaign approval is on in the demo (docs/approvals.md), so a new user meets the workflow: the demo
approver published the live campaigns, some campaigns await approval (with the marketer's note),
one was rejected (with the approver's comment), and one live campaign has changes awaiting
approval, so the queue shows a real diff. All of it goes through the services (the approvers are
e-mailed about the requests, as they would be).

Idempotent: users, labels and campaigns are keyed by name, and whatever already exists is left as
it is, so running it twice creates nothing twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.roles import Role
from approvals import services as approvals
from approvals.models import ApprovalSettings, ApprovalSettingsChange
from audience.demo import seed_audience
from campaigns import services
from campaigns.choices import Action, CampaignType, Channel, Delivery, Status
from campaigns.models import Campaign, CampaignAudit
from campaigns.validation import WEEKDAYS
from labels.models import Label

# Printed by `make run` and documented in docs/running.md: a demo login, not a secret.
DEMO_PASSWORD = "herald-demo"  # noqa: S105
ADMIN, MARKETER, APPROVER = "admin@herald.local", "marketer@herald.local", "approver@herald.local"
# (username and e-mail, role, first name, last name)
DEMO_USERS: tuple[tuple[str, Role, str, str], ...] = (
    (ADMIN, Role.ADMIN, "Ada", "Admin"),
    (MARKETER, Role.MARKETER, "Maya", "Marketer"),
    (APPROVER, Role.APPROVER, "Ari", "Approver"),
)
DEMO_LABELS = (
    "Onboarding",
    "Reengage",
    "Score Updates",
    "Promotions",
    "Cart Recovery",
    "Transactional",
)

C, D, S = Channel, Delivery, Status
ONE, AB, BY_PROPERTY = (
    CampaignType.SINGLE_MESSAGE,
    CampaignType.AB_TEST,
    CampaignType.MESSAGE_ON_USER_PROPERTY,
)


@dataclass(frozen=True)
class Demo:
    name: str
    channel: Channel
    type: CampaignType
    delivery: Delivery
    status: Status
    labels: tuple[str, ...] = ()
    who: str = "everyone"  # a key of _who()
    # Starts at a later date (one-time: "send later"; triggered and API campaigns: a start_at).
    later: bool = False
    # Last active this many months ago; 0 means now.
    months_ago: int = 0
    archived: bool = False
    by: str = MARKETER
    trigger: str = "App Installed"
    timezone: str = "UTC"
    # Approval Pending / Rejected for changes to a live campaign: the live version's status.
    live: Status | None = None
    # The requester's note when sent for approval, and the approver's comment when rejected.
    note: str = ""
    comment: str = ""


DEMOS: tuple[Demo, ...] = (
    # Onboarding
    Demo(
        "Welcome push: day one", C.PUSH, ONE, D.ACTION, S.RUNNING, labels=("Onboarding",), who="new"
    ),
    Demo(
        "Welcome email",
        C.EMAIL,
        ONE,
        D.ACTION,
        S.RUNNING,
        labels=("Onboarding",),
        who="new",
        trigger="Signed Up",
    ),
    Demo(
        "Profile completion nudge",
        C.IN_APP,
        ONE,
        D.INACTION,
        S.RUNNING,
        labels=("Onboarding",),
        who="new",
    ),
    Demo(
        "Getting started tips",
        C.APP_INBOX,
        ONE,
        D.ONE_TIME,
        S.SCHEDULED,
        labels=("Onboarding",),
        who="new",
        later=True,
        timezone="Asia/Kolkata",
    ),
    Demo(
        "Finish setup reminder",
        C.SMS,
        ONE,
        D.INACTION,
        S.SCHEDULED,
        labels=("Onboarding",),
        who="new",
        later=True,
    ),
    # Score updates
    Demo(
        "Weekly score digest",
        C.PUSH,
        AB,
        D.RECURRING,
        S.AWAITING_NEXT_RUN,
        labels=("Score Updates",),
        who="fans",
    ),
    Demo(
        "Live match alerts",
        C.PUSH,
        BY_PROPERTY,
        D.API,
        S.RUNNING,
        labels=("Score Updates",),
        who="fans",
    ),
    Demo(
        "Match day reminders",
        C.WEB_PUSH,
        ONE,
        D.MULTIPLE_DATES,
        S.SCHEDULED,
        labels=("Score Updates",),
        who="fans",
        timezone="Europe/London",
    ),
    Demo(
        "Final whistle recap",
        C.EMAIL,
        AB,
        D.MULTIPLE_DATES,
        S.AWAITING_NEXT_RUN,
        labels=("Score Updates",),
        who="fans",
    ),
    Demo(
        "Score widget on home screen",
        C.NATIVE_DISPLAY,
        BY_PROPERTY,
        D.API,
        S.RUNNING,
        labels=("Score Updates",),
        who="fans",
    ),
    Demo(
        "Streak reminder",
        C.PUSH,
        ONE,
        D.RECURRING,
        S.RUNNING,
        labels=("Score Updates",),
        who="fans",
    ),
    # Re-engagement
    Demo(
        "We miss you",
        C.PUSH,
        AB,
        D.ONE_TIME,
        S.COMPLETED,
        labels=("Reengage",),
        who="lapsed",
        months_ago=3,
    ),
    Demo(
        "Come back for 20% off",
        C.EMAIL,
        ONE,
        D.ONE_TIME,
        S.COMPLETED,
        labels=("Reengage", "Promotions"),
        who="lapsed",
        months_ago=7,
        archived=True,
    ),
    Demo(
        "Lapsed users: Facebook",
        C.FACEBOOK_AUDIENCE,
        ONE,
        D.RECURRING,
        S.AWAITING_NEXT_RUN,
        labels=("Reengage",),
        who="lapsed",
    ),
    Demo(
        "Lapsed users: Google Ads",
        C.GOOGLE_ADS,
        ONE,
        D.RECURRING,
        S.SCHEDULED,
        labels=("Reengage",),
        who="lapsed",
    ),
    Demo(
        "Lapsed users: TikTok",
        C.TIKTOK_AUDIENCE,
        ONE,
        D.ONE_TIME,
        S.STOPPED,
        labels=("Reengage",),
        who="lapsed",
        months_ago=4,
    ),
    Demo(
        "Win-back on WhatsApp",
        C.WHATSAPP,
        ONE,
        D.ONE_TIME,
        S.PENDING_APPROVAL,
        labels=("Reengage",),
        who="lapsed",
        later=True,
        note="Template approved by Meta last week; please check the audience window.",
    ),
    # Carts and transactions
    Demo(
        "Cart abandonment SMS",
        C.SMS,
        ONE,
        D.INACTION,
        S.RUNNING,
        labels=("Cart Recovery",),
        who="shoppers",
        trigger="Added To Cart",
    ),
    Demo(
        "Cart reminder pop-up",
        C.WEB_POPUP,
        ONE,
        D.ACTION,
        S.RUNNING,
        labels=("Cart Recovery",),
        who="shoppers",
        trigger="Cart Viewed",
    ),
    Demo(
        "Leaving already? exit offer",
        C.WEB_EXIT_INTENT,
        AB,
        D.ACTION,
        S.STOPPED,
        labels=("Cart Recovery", "Promotions"),
        who="shoppers",
        months_ago=2,
        trigger="Checkout Started",
    ),
    Demo(
        "Order shipped webhook",
        C.WEBHOOK,
        ONE,
        D.API,
        S.RUNNING,
        labels=("Transactional",),
        by=ADMIN,
    ),
    Demo("Order update on WhatsApp", C.WHATSAPP, ONE, D.API, S.RUNNING, labels=("Transactional",)),
    Demo(
        "Password changed webhook",
        C.WEBHOOK,
        ONE,
        D.ACTION,
        S.COMPLETED,
        labels=("Transactional",),
        months_ago=5,
        trigger="Password Changed",
        by=ADMIN,
    ),
    Demo(
        "Loyalty points sync",
        C.PARTNER,
        ONE,
        D.RECURRING,
        S.STOPPED,
        who="customers",
        months_ago=5,
        by=ADMIN,
    ),
    # Promotions
    Demo(
        "Birthday wishes",
        C.EMAIL,
        BY_PROPERTY,
        D.DATE_TIME,
        S.RUNNING,
        labels=("Promotions",),
        who="customers",
    ),
    Demo(
        "Birthday banner",
        C.WEB_NATIVE_DISPLAY,
        ONE,
        D.DATE_TIME,
        S.SCHEDULED,
        labels=("Promotions",),
        who="customers",
        later=True,
    ),
    Demo(
        "Diwali sale countdown",
        C.PUSH,
        ONE,
        D.MULTIPLE_DATES,
        S.DRAFT,
        labels=("Promotions",),
        who="customers",
        timezone="Asia/Kolkata",
    ),
    Demo(
        "Black Friday early access",
        C.EMAIL,
        AB,
        D.ONE_TIME,
        S.PENDING_APPROVAL,
        labels=("Promotions",),
        who="customers",
        later=True,
        timezone="America/New_York",
        note="Variant B leads with the discount; legal has seen both.",
    ),
    Demo(
        "New season launch",
        C.IN_APP,
        AB,
        D.ONE_TIME,
        S.REJECTED,
        labels=("Promotions",),
        who="customers",
        later=True,
        note="Ready for launch day.",
        comment="The free-plan variant promises features the free plan does not have. "
        "Please fix the copy and send it again.",
    ),
    Demo(
        "Summer sale SMS blast",
        C.SMS,
        ONE,
        D.ONE_TIME,
        S.REJECTED,
        labels=("Promotions",),
        who="customers",
        months_ago=2,
        archived=True,
        comment="The sale ended last week.",
    ),
    Demo(
        "Spring sale web push",
        C.WEB_PUSH,
        ONE,
        D.ONE_TIME,
        S.COMPLETED,
        labels=("Promotions",),
        months_ago=8,
        archived=True,
    ),
    Demo(
        "Premium upgrade offer",
        C.NATIVE_DISPLAY,
        ONE,
        D.INACTION,
        S.PENDING_APPROVAL,
        labels=("Promotions",),
        who="customers",
        trigger="Pricing Viewed",
    ),
    Demo(
        "Weekly deals digest",
        C.PUSH,
        ONE,
        D.RECURRING,
        S.PENDING_APPROVAL,
        labels=("Promotions",),
        who="customers",
        live=S.AWAITING_NEXT_RUN,
        note="Shorter title, with the discount up front, from next week.",
    ),
    Demo(
        "Coffee voucher with Acme",
        C.PARTNER,
        ONE,
        D.ONE_TIME,
        S.STOPPED,
        labels=("Promotions",),
        who="customers",
        months_ago=3,
        archived=True,
    ),
    # Drafts
    Demo(
        "Referral programme teaser",
        C.APP_INBOX,
        BY_PROPERTY,
        D.RECURRING,
        S.DRAFT,
        who="customers",
        months_ago=2,
    ),
    Demo("How are we doing? survey", C.WEB_POPUP, ONE, D.API, S.DRAFT, months_ago=6, archived=True),
    Demo("Holiday opening hours", C.WEB_NATIVE_DISPLAY, ONE, D.DATE_TIME, S.DRAFT),
)

GREETING = "Hi {{ profile.first_name | default('there') }}"
MESSAGES: dict[Channel, dict[str, Any]] = {
    C.PUSH: {
        "title": GREETING,
        "body": "Something new is waiting for you.",
        "deep_link": "herald://home",
    },
    C.IN_APP: {
        "title": "New this season",
        "body": "Three new features are waiting for you.",
        "layout": "half_interstitial",
        "button_text": "Show me",
    },
    C.APP_INBOX: {
        "title": "Your monthly summary",
        "body": "Here is what happened on your account.",
        "tags": ["summary"],
    },
    C.EMAIL: {
        "subject": "News for you, {{ profile.first_name | default('friend') }}",
        "from_email": "news@herald.example.com",
        "from_name": "Herald Demo",
        "html": "<p>" + GREETING + ",</p><p>Something new is waiting for you.</p>",
        "text": GREETING + ", something new is waiting for you.",
    },
    C.WEB_PUSH: {
        "title": "It starts soon",
        "body": "Tap to follow it live.",
        "url": "https://herald.example.com/live",
    },
    C.WEB_POPUP: {
        "title": "Still thinking it over?",
        "body": "Your cart is saved for 24 hours.",
        "button_text": "Back to cart",
        "url": "https://herald.example.com/cart",
    },
    C.WEB_EXIT_INTENT: {
        "title": "Before you go",
        "body": "Take 10% off if you order today.",
        "button_text": "Claim 10%",
        "url": "https://herald.example.com/cart",
    },
    C.NATIVE_DISPLAY: {
        "title": "Scores",
        "deep_link": "herald://scores",
        "body": "{{ profile.favourite_team | default('Your team') }} plays today.",
    },
    C.WEB_NATIVE_DISPLAY: {
        "title": "Happy birthday!",
        "body": "A gift is waiting in your account.",
        "image_url": "https://herald.example.com/static/gift.png",
    },
    C.WEBHOOK: {
        "url": "https://hooks.herald.example.com/events",
        "method": "POST",
        "payload": '{"user": "{{ profile.id }}", "campaign": "{{ campaign.name }}"}',
    },
    C.SMS: {
        "body": GREETING + ", your cart is waiting. Reply STOP to opt out.",
        "sender_id": "HERALD",
    },
    C.WHATSAPP: {
        "template_name": "order_update",
        "language": "en",
        "variables": ["{{ profile.first_name | default('there') }}"],
    },
    C.FACEBOOK_AUDIENCE: {"audience_name": "Herald lapsed users", "ad_account_id": "act_10293847"},
    C.GOOGLE_ADS: {"audience_name": "Herald lapsed users", "ad_account_id": "123-456-7890"},
    C.TIKTOK_AUDIENCE: {"audience_name": "Herald lapsed users", "ad_account_id": "7001234567890"},
    C.PARTNER: {"partner": "Acme Loyalty", "payload": {"points": "100"}},
}
# The changes proposed to the live "Weekly deals digest" (What only, as Awaiting Next Run allows).
REVISED_PUSH = {
    **MESSAGES[C.PUSH],
    "title": "Up to 40% off this week, {{ profile.first_name | default('friend') }}",
    "body": "The best deals from the brands you follow, picked for you.",
}
ABSENT_EVENT = "Charged"  # what an Inaction campaign waits for in vain


def _who(key: str, labels: dict[str, Label]) -> dict[str, Any]:
    conditions: dict[str, list[dict[str, Any]]] = {
        "everyone": [],
        "new": [{"type": "event", "event": "App Installed", "window": {"last_days": 7}}],
        "lapsed": [
            {"type": "event", "event": "App Launched", "did": False, "window": {"last_days": 30}},
            {
                "type": "label_sent",
                "label_id": labels["Onboarding"].pk,
                "window": {"last_days": 365},
            },
        ],
        "fans": [
            {"type": "property", "property": "favourite_team", "op": "exists"},
            {
                "type": "event",
                "event": "Match Viewed",
                "count": {"op": "gte", "value": 3},
                "window": {"last_days": 14},
            },
        ],
        "shoppers": [
            {"type": "property", "property": "country", "op": "in", "value": ["IN", "US", "GB"]},
        ],
        "customers": [{"type": "event", "event": "Charged", "window": {"last_days": 180}}],
    }
    match = "any" if key == "fans" else "all"
    return {"type": "group", "match": match, "conditions": conditions[key]}


def _variant(message: dict[str, Any], tag: str) -> dict[str, Any]:
    """The same message with its headline marked, so variants can be told apart."""
    field = next(f for f in ("title", "subject", "body") if f in message)
    return {**message, field: f"{message[field]} ({tag})"}


def _what(channel: Channel, kind: CampaignType) -> dict[str, Any]:
    message = MESSAGES[channel]
    if kind == AB:
        return {
            "variants": [
                {"name": "A", "split": 50, "message": message},
                {"name": "B", "split": 50, "message": _variant(message, "B")},
            ],
            "control_group": 10,
        }
    if kind == BY_PROPERTY:
        return {
            "property": "plan",
            "messages": [
                {"value": "free", "message": _variant(message, "free plan")},
                {"value": "premium", "message": _variant(message, "premium")},
            ],
            "default": message,
        }
    return {"message": message}


def _local(moment: dt.datetime, tz: str) -> str:
    """ISO date and time without an offset: validation reads it in the When's time zone."""
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _when(demo: Demo, now: dt.datetime) -> dict[str, Any]:
    tz = demo.timezone
    zone = zoneinfo.ZoneInfo(tz)
    ahead = (now + dt.timedelta(days=3)).astimezone(zone).replace(hour=10, minute=0, second=0)
    # Campaigns shown as having run start (and run first) a minute or two from now.
    soon = (now + dt.timedelta(minutes=2)).astimezone(zone).replace(second=0)
    ran = (demo.live or demo.status) in (S.RUNNING, S.AWAITING_NEXT_RUN, S.COMPLETED)
    first = soon if ran else ahead
    start = {"start_at": _local(ahead, tz), "timezone": tz} if demo.later else {}
    trigger = {"trigger": {"event": demo.trigger}}
    if demo.delivery == D.ONE_TIME:
        return {"send": "later", **start} if demo.later else {"send": "now"}
    if demo.delivery == D.ACTION:
        return {**trigger, "delay_minutes": 30, **start}
    if demo.delivery == D.INACTION:
        absent = {"event": ABSENT_EVENT}
        return {**trigger, "absent_event": absent, "window_minutes": 120, **start}
    if demo.delivery == D.DATE_TIME:
        return {"date_property": "birthday", "send_time": "09:00", "user_timezone": True, **start}
    if demo.delivery == D.API:
        return start
    if demo.delivery == D.RECURRING:
        return {
            "start_at": _local(first, tz),
            "timezone": tz,
            "send_time": first.strftime("%H:%M"),
            "frequency": "weekly",
            "weekdays": [WEEKDAYS[first.weekday()]],
            "end_after_runs": 26,
        }
    dates = [_local(first + dt.timedelta(days=7 * i), tz) for i in range(3)]
    return {"dates": dates, "timezone": tz}


def _scheduler_move(campaign: Campaign, *, action: Action, to: Status, **fields: Any) -> Campaign:
    """Move a campaign as the dispatch scheduler does when a run starts or finishes (the demo's
    sends are its history, not runs made now: see audience/demo.py)."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        return services.scheduler_move(locked, action=action, to=to, now=timezone.now(), **fields)


def _bring_to_status(campaign: Campaign, demo: Demo, users: dict[str, User]) -> Campaign:
    creator, approver = users[demo.by], users[APPROVER]
    if demo.status == S.DRAFT:
        return campaign
    if demo.live is None and demo.status in (S.PENDING_APPROVAL, S.REJECTED):
        # A new campaign sent for approval (and rejected, for Rejected).
        request = approvals.campaign_submit(actor=creator, campaign_id=campaign.pk, note=demo.note)
        if demo.status == S.REJECTED:
            approvals.request_reject(actor=approver, request_id=request.pk, comment=demo.comment)
        campaign.refresh_from_db()
        return campaign
    campaign = _publish(campaign, creator, approver)
    campaign = _run_to(campaign, demo, demo.live or demo.status, creator)
    if demo.live is not None:
        # Changes to the live campaign, awaiting approval: it keeps running as it is meanwhile.
        approvals.campaign_propose(
            actor=creator,
            campaign_id=campaign.pk,
            data={"what": {"message": REVISED_PUSH}},
            note=demo.note,
        )
        campaign.refresh_from_db()
    return campaign


def _publish(campaign: Campaign, creator: User, approver: User) -> Campaign:
    """Publish as the workspace's setting allows: with approval on, the demo approver publishes
    the creator's draft (approvers publish drafts they did not write); with it off, the creator.
    No request is made, so nobody is e-mailed about campaigns that are long live."""
    publisher = approver if ApprovalSettings.current().enabled else creator
    return services.campaign_publish(actor=publisher, campaign_id=campaign.pk)


def _run_to(campaign: Campaign, demo: Demo, target: Status, creator: User) -> Campaign:
    """From its publication to `target`: stopped by its creator, or moved as the scheduler will."""
    if target == S.STOPPED:
        return services.campaign_stop(actor=creator, campaign_id=campaign.pk)
    now = timezone.now()
    if campaign.status == S.SCHEDULED and target != S.SCHEDULED:
        # The scheduler starts the first run at its time.
        campaign = _scheduler_move(
            campaign,
            action=Action.RUN_START,
            to=S.RUNNING,
            runs_count=1,
            last_run_at=now,
        )
    if target == S.AWAITING_NEXT_RUN:
        # Awaiting campaigns repeat weekly, or have dates a week apart (see _when).
        next_run_at = campaign.next_run_at + dt.timedelta(days=7)
        campaign = _scheduler_move(
            campaign,
            action=Action.RUN_FINISH,
            to=S.AWAITING_NEXT_RUN,
            last_run_at=now,
            next_run_at=next_run_at,
        )
    elif target == S.COMPLETED:
        # A one-time send completes when its run finishes; a triggered campaign when it ends.
        action = Action.RUN_FINISH if demo.delivery == D.ONE_TIME else Action.COMPLETE
        campaign = _scheduler_move(
            campaign,
            action=action,
            to=S.COMPLETED,
            runs_count=1,
            last_run_at=now,
            next_run_at=None,
        )
    return campaign


def _needs_approval(demo: Demo) -> bool:
    return demo.status in (S.PENDING_APPROVAL, S.REJECTED)


@contextmanager
def _approval_on(admin: User) -> Iterator[None]:
    """Campaigns awaiting approval, or rejected, are made with campaign approval on. If an Admin
    has switched it off since, it is on only while they are made (both changes audited)."""
    if ApprovalSettings.current().enabled:
        yield
        return
    approvals.approval_settings_update(actor=admin, enabled=True)
    try:
        yield
    finally:
        approvals.approval_settings_update(actor=admin, enabled=False)


def _backdate(campaign: Campaign, months: int) -> None:
    """Make the campaign's whole history, and so its last activity, `months` months old."""
    past = timezone.now() - relativedelta(months=months)
    Campaign.objects.filter(pk=campaign.pk).update(
        created_at=past,
        last_active_at=past,
        last_run_at=past if campaign.last_run_at else None,
    )
    CampaignAudit.objects.filter(campaign=campaign).update(created_at=past)


class Command(BaseCommand):
    help = "Create the demo users, labels and campaigns (idempotent: existing names are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {spec[0]: self._user(*spec) for spec in DEMO_USERS}
        labels = {name: self._label(name, users[MARKETER]) for name in DEMO_LABELS}
        if not ApprovalSettingsChange.objects.exists():
            # The demo shows the workflow. Once the setting has a history (this seed's, or an
            # Admin's choice), it is left as it is.
            approvals.approval_settings_update(actor=users[ADMIN], enabled=True)
        names = [demo.name for demo in DEMOS]
        existing = set(Campaign.objects.filter(name__in=names).values_list("name", flat=True))
        missing = [demo for demo in DEMOS if demo.name not in existing]
        for demo in missing:
            if _needs_approval(demo):
                with _approval_on(users[ADMIN]):
                    self._campaign(demo, users, labels)
            else:
                self._campaign(demo, users, labels)
        approval = "on" if ApprovalSettings.current().enabled else "off"
        self.stdout.write(
            f"Demo data: {len(users)} users, {len(labels)} labels, {len(DEMOS)} campaigns "
            f"({len(missing)} created now); campaign approval is {approval}."
        )
        # The audience after the campaigns: its Notification Sent events are theirs.
        audience = seed_audience()
        self.stdout.write(
            f"Demo audience: {audience['profiles']:,} profiles, {audience['events']:,} events "
            f"({audience['sent']:,} notifications sent) created now."
            if audience
            else "Demo audience: already there."
        )
        for email, role, _first, _last in DEMO_USERS:
            self.stdout.write(f"  {role.value:<9} {email}  password: {DEMO_PASSWORD}")

    def _user(self, email: str, role: Role, first: str, last: str) -> User:
        user, created = User.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": first, "last_name": last}
        )
        if created:
            # Only a new user gets the demo password: a changed password is kept.
            user.set_password(DEMO_PASSWORD)
        if role == Role.ADMIN:
            user.is_staff = user.is_superuser = True
        user.save()
        user.groups.add(Group.objects.get(name=role.value))
        return user

    def _label(self, name: str, creator: User) -> Label:
        label, _ = Label.objects.get_or_create(
            name__iexact=name, defaults={"name": name, "created_by": creator}
        )
        return label

    @transaction.atomic
    def _campaign(self, demo: Demo, users: dict[str, User], labels: dict[str, Label]) -> Campaign:
        campaign = services.campaign_create(
            actor=users[demo.by],
            name=demo.name,
            channel=demo.channel,
            type=demo.type,
            delivery=demo.delivery,
            who=_who(demo.who, labels),
            what=_what(demo.channel, demo.type),
            when=_when(demo, timezone.now()),
            labels=[labels[name].pk for name in demo.labels],
        )
        campaign = _bring_to_status(campaign, demo, users)
        if campaign.status != demo.status:
            raise CommandError(f"{demo.name}: meant to be {demo.status}, but is {campaign.status}.")
        if demo.archived:
            campaign = services.campaign_archive(actor=users[demo.by], campaign_id=campaign.pk)
        if demo.months_ago:
            _backdate(campaign, demo.months_ago)
        return campaign
