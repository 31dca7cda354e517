"""The demo audience `seed_demo` loads: a few thousand profiles and 90 days of their events, with a
shape real apps have, so that segments, estimates and cohorts show something worth looking at.

- Profiles: plan (free / pro / premium), country, signup date, favourite team, age, first name;
  e-mail for most, a fictional phone number for a third (US 555-01xx and London 020 7946 0xxx,
  numbers reserved for fiction), a consent mix, push devices for app users and some web push.
- Events: App Installed / Signed Up at signup; App Launched on active days, which thin out as a
  user's interest decays (some never come back, a few stay daily); Product Viewed, Added To Cart,
  Charged (with an amount), Pricing Viewed and, for fans, Match Viewed.
- Notification Sent for the demo campaigns that went live, shaped as
  audience.services.record_notification_sent writes them (campaign id and name, channel,
  variant, the labels as they are at send time, in properties and in the campaign_id /
  label_ids columns): Onboarding messages to new users soon after signup (and those users stay a
  little longer, so the Onboarding cohort shows it), cart reminders after carts left, order
  updates after purchases, digests every week, and so on. Some are viewed and clicked.

Everything is generated from a fixed seed relative to now, and written in bulk: profiles and
devices with execute_values, events with COPY. Idempotent: nothing is done when the demo profiles
exist already.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg2.extras import execute_values

from audience import partitions
from audience.models import (
    NOTIFICATION_CLICKED,
    NOTIFICATION_SENT,
    NOTIFICATION_VIEWED,
    Profile,
    PropertyDefinition,
    PropertyType,
)
from campaigns.models import Campaign
from labels.services import label_snapshot_for

PROFILES = 3000
DAYS = 90
SEED = 6_2025
IDENTITY = "demo-{:05d}"
FIRST_IDENTITY = IDENTITY.format(1)

PROPERTIES = {
    "first_name": PropertyType.STRING,
    "plan": PropertyType.STRING,
    "country": PropertyType.STRING,
    "signup_date": PropertyType.DATE,
    "favourite_team": PropertyType.STRING,
    "age": PropertyType.NUMBER,
}
FIRST_NAMES = (
    "Aarav Aditi Ana Ben Carla Chen Chloe Dev Diego Elena Emma Farah Felix Grace Hana Ikram "
    "Isha James Jonas Kavya Leo Lina Lucas Maya Mia Noah Nora Omar Priya Rahul Rosa Sam Sara "
    "Tariq Tom Uma Vikram Yara Zoe"
).split()
LAST_NAMES = (
    "Ahmed Bauer Costa Dubois Evans Fischer Garcia Gupta Hill Ito Jones Khan Kim Lopez Mehta "
    "Murphy Nguyen Okafor Patel Rossi Silva Smith Tan Walker Wang Weber Young"
).split()
# (country, share, time zone)
COUNTRIES = (
    ("IN", 0.30, "Asia/Kolkata"),
    ("US", 0.25, "America/New_York"),
    ("GB", 0.15, "Europe/London"),
    ("DE", 0.08, "Europe/Berlin"),
    ("BR", 0.08, "America/Sao_Paulo"),
    ("FR", 0.07, "Europe/Paris"),
    ("AU", 0.07, "Australia/Sydney"),
)
PLANS = (("free", 0.62), ("pro", 0.28), ("premium", 0.10))
TEAMS = ("Mumbai Indians", "Arsenal", "Lakers", "Bayern", "Flamengo", "PSG", "Chennai Kings")
CATEGORIES = ("shoes", "jackets", "phones", "books", "games", "kitchen")
US_AREAS = (202, 212, 305, 312, 404, 415, 512, 617, 206, 303)
# Channels that reach a person with a message (ad audiences, webhooks and partners do not).
PERSONAL = {
    "push",
    "in_app",
    "app_inbox",
    "email",
    "web_push",
    "web_popup",
    "web_exit_intent",
    "native_display",
    "web_native_display",
    "sms",
    "whatsapp",
}
RAN = ("running", "awaiting_next_run", "completed")
COPY_COLUMNS = "profile_id, name, ts, properties, campaign_id, label_ids, created_at"


@dataclass
class Person:
    id: int
    index: int
    plan: str
    country: str
    signup: dt.datetime
    fan: str
    email: bool
    email_out: bool
    sms: bool
    whatsapp: bool
    push: bool
    web_push: bool
    # Activity: the chance of being active on a day, decaying with days since signup.
    base: float
    tau: float
    floor: float
    carts: list[dt.datetime] = field(default_factory=list)
    charges: list[dt.datetime] = field(default_factory=list)
    launches: int = 0
    onboarded: bool = False


def _pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    roll, acc = rng.random(), 0.0
    for item in weighted:
        acc += item[1]
        if roll < acc:
            return item
    return weighted[-1]


def _phone(rng: random.Random, country: str, n: int) -> str:
    if country == "GB":
        return f"+4420794{60000 + n % 1000:05d}"
    return f"+1{US_AREAS[n // 100 % len(US_AREAS)]}55501{n % 100:02d}"


# ---------------------------------------------------------------------------------------------
# Profiles and devices
# ---------------------------------------------------------------------------------------------
def _profiles(rng: random.Random, now: dt.datetime, count: int) -> list[tuple[tuple, Person]]:
    rows = []
    phones = 0
    for i in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country, _, tz = _pick(rng, COUNTRIES)
        plan = _pick(rng, PLANS)[0]
        new = rng.random() < 0.45
        days_ago = rng.uniform(0, DAYS) if new else rng.uniform(DAYS, 720)
        signup = now - dt.timedelta(days=days_ago)
        has_email = rng.random() < 0.92
        has_phone = rng.random() < 0.35 and phones < 1000
        phone = _phone(rng, country, phones) if has_phone else ""
        phones += has_phone
        email_consent = _pick(rng, (("opted_in", 0.55), ("unknown", 0.35), ("opted_out", 0.10)))[0]
        sms = _pick(rng, (("opted_in", 0.5), ("unknown", 0.4), ("opted_out", 0.1)))[0]
        whatsapp = _pick(rng, (("opted_in", 0.3), ("unknown", 0.65), ("opted_out", 0.05)))[0]
        if not has_phone:
            sms = whatsapp = "unknown"
        fan = rng.choice(TEAMS) if rng.random() < 0.35 else ""
        properties: dict[str, Any] = {
            "first_name": first,
            "plan": plan,
            "country": country,
            "signup_date": signup.date().isoformat(),
            "age": int(min(80, max(16, rng.gauss(33, 11)))),
        }
        if fan:
            properties["favourite_team"] = fan
        out_at = signup + dt.timedelta(days=rng.uniform(0, days_ago)) if days_ago else now
        row = (
            IDENTITY.format(i),
            f"{first}.{last}.{i}@example.com".lower() if has_email else "",
            phone,
            tz,
            json.dumps(properties),
            email_consent,
            out_at if email_consent == "opted_out" else None,
            sms,
            out_at if sms == "opted_out" else None,
            whatsapp,
            out_at if whatsapp == "opted_out" else None,
            signup,
            now,
        )
        engaged = rng.random()
        person = Person(
            id=0,
            index=i,
            plan=plan,
            country=country,
            signup=signup,
            fan=fan,
            email=has_email and email_consent != "opted_out",
            email_out=email_consent == "opted_out",
            sms=sms == "opted_in",
            whatsapp=whatsapp == "opted_in",
            push=rng.random() < 0.7,
            web_push=rng.random() < 0.15,
            # A fifth never come back after their first days; a few stay near daily.
            base=0.0 if engaged < 0.2 else 0.1 + 0.6 * engaged**2,
            tau=rng.uniform(3, 25),
            floor=0.3 if engaged > 0.95 else (0.04 if engaged > 0.7 else 0.0),
        )
        rows.append((row, person))
    return rows


_INSERT_PROFILES = """
INSERT INTO audience_profile (identity, email, phone, timezone, properties, email_consent,
    email_unsubscribed_at, sms_consent, sms_unsubscribed_at, whatsapp_consent,
    whatsapp_unsubscribed_at, created_at, updated_at)
VALUES %s RETURNING id
"""


def _insert_profiles(cursor: Any, rows: list[tuple[tuple, Person]]) -> list[Person]:
    ids = execute_values(
        cursor,
        _INSERT_PROFILES,
        [row for row, _ in rows],
        template="(%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s)",
        page_size=len(rows),
        fetch=True,
    )
    people = []
    for (pk,), (_, person) in zip(ids, rows, strict=True):
        person.id = pk
        people.append(person)
    return people


def _insert_devices(cursor: Any, rng: random.Random, people: list[Person]) -> int:
    rows = []
    for person in people:
        if person.push:
            platform = "ios" if rng.random() < 0.4 else "android"
            disabled = rng.random() < 0.05
            rows.append(
                (
                    person.id,
                    "push",
                    platform,
                    f"demo-fcm-{person.index:05d}-{rng.getrandbits(64):016x}",
                    "{}",
                    "opted_out" if rng.random() < 0.12 else "opted_in",
                    person.signup + dt.timedelta(days=30) if disabled else None,
                    "UNREGISTERED" if disabled else "",
                    person.signup,
                    person.signup,
                )
            )
        if person.web_push:
            keys = {"p256dh": f"BDemo{rng.getrandbits(128):032x}", "auth": f"{person.index:022x}"}
            rows.append(
                (
                    person.id,
                    "web_push",
                    "chrome",
                    f"https://push.example.com/demo/{person.index:05d}/{rng.getrandbits(64):x}",
                    json.dumps(keys),
                    "opted_in",
                    None,
                    "",
                    person.signup,
                    person.signup,
                )
            )
    if rows:
        execute_values(
            cursor,
            "INSERT INTO audience_device (profile_id, kind, platform, token, keys, push_consent, "
            "disabled_at, disabled_reason, last_seen_at, created_at) VALUES %s",
            rows,
            template="(%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)",
            page_size=len(rows),
        )
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------------
Event = tuple[int, str, dt.datetime, str, int | None, str | None]


def _at(day_start: dt.datetime, rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A moment in the waking hours of that day (never after now)."""
    moment = day_start + dt.timedelta(hours=rng.uniform(7, 23))
    return min(moment, now - dt.timedelta(seconds=rng.uniform(60, 3600)))


def _behaviour(
    person: Person, rng: random.Random, now: dt.datetime, start: dt.datetime
) -> Iterator[Event]:
    pid = person.id
    if person.signup >= start:
        yield pid, "App Installed", person.signup, "{}", None, None
        yield pid, "Signed Up", person.signup + dt.timedelta(minutes=3), "{}", None, None
    first_day = max(person.signup, start).replace(hour=0, minute=0, second=0, microsecond=0)
    day = first_day
    while day < now:
        age_days = (day - person.signup).total_seconds() / 86400
        chance = person.base * math.exp(-age_days / person.tau) + person.floor
        if rng.random() < chance:
            yield from _active_day(person, rng, now, day)
        day += dt.timedelta(days=1)


def _active_day(
    person: Person, rng: random.Random, now: dt.datetime, day: dt.datetime
) -> Iterator[Event]:
    pid = person.id
    moment = _at(day, rng, now)
    if moment < person.signup:
        return
    person.launches += 1
    for _ in range(1 + (rng.random() < 0.35)):
        yield pid, "App Launched", moment, "{}", None, None
        moment += dt.timedelta(minutes=rng.uniform(20, 240))
    moment = min(moment, now - dt.timedelta(seconds=30))
    for _ in range(int(rng.expovariate(1 / 1.1))):
        category = rng.choice(CATEGORIES)
        price = round(rng.uniform(5, 180), 2)
        props = {"product_id": f"SKU-{rng.randint(100, 999)}", "category": category, "price": price}
        yield pid, "Product Viewed", moment, json.dumps(props), None, None
        if rng.random() < 0.18:
            cart = moment + dt.timedelta(minutes=2)
            if cart < now:
                person.carts.append(cart)
                yield pid, "Added To Cart", cart, json.dumps(props), None, None
                if rng.random() < 0.35:
                    paid = cart + dt.timedelta(minutes=rng.uniform(2, 30))
                    if paid < now:
                        person.charges.append(paid)
                        charge = {"amount": price, "currency": "USD", "items": 1}
                        yield pid, "Charged", paid, json.dumps(charge), None, None
    if rng.random() < (0.08 if person.plan == "free" else 0.02):
        yield pid, "Pricing Viewed", moment, json.dumps({"plan": person.plan}), None, None
    if person.fan and rng.random() < 0.4:
        props = {"team": person.fan}
        yield pid, "Match Viewed", moment, json.dumps(props), None, None


# ---------------------------------------------------------------------------------------------
# Sends
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sender:
    campaign_id: int
    name: str
    channel: str
    labels: list[dict[str, Any]]
    label_names: frozenset[str]
    variants: tuple[str, ...]
    property_values: tuple[str, ...]
    delivery: str
    status: str
    last_run_at: dt.datetime | None


def _senders() -> list[Sender]:
    """The demo campaigns that went live on a channel that reaches a person."""
    live = Campaign.objects.filter(Q(status__in=RAN) | Q(live_status__in=RAN))
    senders = []
    for campaign in live.filter(channel__in=PERSONAL).order_by("pk"):
        what = campaign.what if isinstance(campaign.what, dict) else {}
        variants = tuple(v.get("name", "") for v in what.get("variants") or [] if v.get("name"))
        values = tuple(str(m.get("value")) for m in what.get("messages") or [])
        labels = label_snapshot_for(campaign)
        senders.append(
            Sender(
                campaign_id=campaign.pk,
                name=campaign.name,
                channel=campaign.channel,
                labels=labels,
                label_names=frozenset(label["name"] for label in labels),
                variants=variants,
                property_values=values,
                delivery=campaign.delivery,
                status=campaign.live_status or campaign.status,
                last_run_at=campaign.last_run_at,
            )
        )
    return senders


def _reaches(person: Person, channel: str) -> bool:
    if channel == "email":
        return person.email
    if channel == "sms":
        return person.sms
    if channel == "whatsapp":
        return person.whatsapp
    if channel == "web_push":
        return person.web_push
    if channel in ("push", "in_app", "app_inbox", "native_display"):
        return person.push
    return True  # the web channels show on the site


def _variant(sender: Sender, person: Person, rng: random.Random) -> str | None:
    if sender.variants:
        return rng.choice(sender.variants)
    if sender.property_values:
        return person.plan if person.plan in sender.property_values else "default"
    return None


def _send_times(
    sender: Sender, person: Person, rng: random.Random, now: dt.datetime, start: dt.datetime
) -> list[dt.datetime]:
    """When this campaign reached this person, by what the campaign is for."""
    names = sender.label_names
    if "Onboarding" in names:
        if not person.onboarded:
            return []
        return [person.signup + dt.timedelta(minutes=rng.uniform(10, 60 * 20))]
    if "Cart Recovery" in names:
        return [c + dt.timedelta(hours=2) for c in person.carts if rng.random() < 0.6]
    if "Transactional" in names:
        return [c + dt.timedelta(minutes=5) for c in person.charges]
    if "Score Updates" in names and not person.fan:
        return []
    if sender.status == "completed" and sender.last_run_at is not None:
        # One run: at its last run (now, for the campaigns the demo has just completed).
        moment = min(sender.last_run_at, now - dt.timedelta(days=2))
        return [moment] if rng.random() < 0.3 and person.signup < moment else []
    if sender.delivery in ("recurring", "multiple_dates") or "Score Updates" in names:
        weekly = []
        moment = start + dt.timedelta(days=sender.campaign_id % 7, hours=10)
        while moment < now:
            if moment > person.signup and rng.random() < 0.12:
                weekly.append(moment)
            moment += dt.timedelta(days=7)
        return weekly
    # Other triggered campaigns: now and then.
    return [
        start + dt.timedelta(days=rng.uniform(0, DAYS))
        for _ in range(int(rng.random() < 0.15) + int(rng.random() < 0.05))
    ]


def _sends(
    senders: list[Sender],
    person: Person,
    rng: random.Random,
    now: dt.datetime,
    start: dt.datetime,
) -> Iterator[Event]:
    for sender in senders:
        if not _reaches(person, sender.channel):
            continue
        for moment in _send_times(sender, person, rng, now, start):
            if moment >= now:
                continue
            props = {
                "campaign_id": sender.campaign_id,
                "campaign_name": sender.name,
                "channel": sender.channel,
                "variant": _variant(sender, person, rng),
                "labels": sender.labels,
            }
            label_ids = "{" + ",".join(str(label["id"]) for label in sender.labels) + "}"
            yield (
                person.id,
                NOTIFICATION_SENT,
                moment,
                json.dumps(props),
                sender.campaign_id,
                label_ids if sender.labels else None,
            )
            seen = {"campaign_id": sender.campaign_id, "channel": sender.channel}
            if rng.random() < 0.35:
                viewed = moment + dt.timedelta(minutes=rng.uniform(1, 180))
                if viewed < now:
                    yield person.id, NOTIFICATION_VIEWED, viewed, json.dumps(seen), None, None
                    if rng.random() < 0.2:
                        clicked = viewed + dt.timedelta(seconds=rng.uniform(2, 60))
                        yield (
                            person.id,
                            NOTIFICATION_CLICKED,
                            clicked,
                            json.dumps(seen),
                            None,
                            None,
                        )


def _onboarded(person: Person, senders: list[Sender], start: dt.datetime, roll: float) -> bool:
    """New users an Onboarding campaign reached (most of them: some signed up before the
    campaigns could reach them)."""
    return (
        person.signup >= start
        and roll < 0.85
        and any("Onboarding" in s.label_names and _reaches(person, s.channel) for s in senders)
    )


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _copy_events(cursor: Any, events: list[Event], now: dt.datetime) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for profile_id, name, ts, props, campaign_id, label_ids in events:
        writer.writerow(
            [
                profile_id,
                name,
                ts.isoformat(),
                props,
                "" if campaign_id is None else campaign_id,
                "" if label_ids is None else label_ids,
                now.isoformat(),
            ]
        )
    buffer.seek(0)
    cursor.copy_expert(
        f"COPY audience_event ({COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)",  # noqa: S608
        buffer,
    )


def _ensure_partitions(first: dt.datetime, last: dt.datetime) -> None:
    month, months = partitions.month_start(first), []
    while month <= partitions.month_start(last):
        months.append(month)
        month = partitions.next_month(month)
    partitions.ensure_months(months)


def seed_audience(*, now: dt.datetime | None = None, profiles: int = PROFILES) -> dict[str, int]:
    """Load the demo audience in one transaction; {} when it is there already."""
    if Profile.objects.filter(identity=FIRST_IDENTITY).exists():
        return {}
    now = now or timezone.now()
    start = (now - dt.timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(SEED)
    senders = _senders()
    with transaction.atomic():
        for name, kind in PROPERTIES.items():
            PropertyDefinition.objects.get_or_create(name=name, defaults={"type": kind})
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor
            people = _insert_profiles(cursor, _profiles(rng, now, profiles))
            devices = _insert_devices(cursor, rng, people)
            events: list[Event] = []
            for person in people:
                person.onboarded = _onboarded(person, senders, start, rng.random())
                if person.onboarded:
                    # Onboarding messages keep new users a little longer.
                    person.tau *= 1.5
                    person.base = max(person.base, 0.2)
                events.extend(_behaviour(person, rng, now, start))
                events.extend(_sends(senders, person, rng, now, start))
            events.sort(key=lambda event: event[2])
            if events:
                _ensure_partitions(events[0][2], events[-1][2])
                _copy_events(cursor, events, now)
    sent = sum(1 for event in events if event[1] == NOTIFICATION_SENT)
    return {"profiles": len(people), "devices": devices, "events": len(events), "sent": sent}
