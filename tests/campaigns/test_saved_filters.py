"""Saved filters: the services' rules, per-user isolation, query normalisation, concurrent saves on
PostgreSQL, and the All Campaigns page's endpoints (save, rename, delete) through the test client."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import saved_filters as sf
from campaigns.choices import Status
from campaigns.models import SavedFilter
from config.errors import DomainError, Forbidden, Invalid, LimitReached, NotFound

LIST = reverse("campaigns:list")
SAVE = reverse("campaigns:saved_filter_create")
HTMX = {"HTTP_HX_REQUEST": "true"}
pytestmark = pytest.mark.django_db

TAKEN = "You already have a saved filter with this name (names are compared ignoring case)."


def rename_url(saved: SavedFilter | int) -> str:
    return reverse("campaigns:saved_filter_rename", args=[getattr(saved, "pk", saved)])


def delete_url(saved: SavedFilter | int) -> str:
    return reverse("campaigns:saved_filter_delete", args=[getattr(saved, "pk", saved)])


def text(response) -> str:
    """What a user reads: tags dropped, entities decoded, whitespace squeezed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def names_of(user: Any) -> list[str]:
    return [saved.name for saved in sf.saved_filters_for(user)]


@pytest.fixture
def save(marketer) -> Callable[..., SavedFilter]:
    def make(name: str, query: str = "status=running", *, actor: Any = None) -> SavedFilter:
        return sf.saved_filter_create(actor=actor or marketer, name=name, query=query)

    return make


# ---------------------------------------------------------------------------------------------
# Normalising the query
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("status=running&page=3", "status=running"),
        ("page=2", ""),
        ("utm_source=mail&status=running&foo=1", "status=running"),
        ("status=running&channel=push", "channel=push&status=running"),
        ("?q=sale&archived=1", "archived=1&q=sale"),
        ("/campaigns/?status=draft&page=9#top", "status=draft"),
        ("https://herald.example/campaigns/?type=ab_test", "type=ab_test"),
        ("q=&channel=&status=draft", "status=draft"),
        ("q=summer sale", "q=summer+sale"),
        ("q=50%25 off", "q=50%25+off"),
        ("label=7&label=3&label=7", "label=7&label=3"),
        ("status=running&status=draft", "status=running&status=draft"),
        ("", ""),
    ],
)
def test_the_query_keeps_only_filter_parameters_sorted_without_page(raw, kept):
    assert sf.saved_filter_query(raw) == kept


def test_every_known_filter_parameter_is_kept():
    raw = "&".join(f"{name}=x" for name in sorted(sf.FILTER_PARAMS, reverse=True))
    assert sf.saved_filter_query(raw) == "&".join(f"{name}=x" for name in sorted(sf.FILTER_PARAMS))


def test_the_query_can_be_a_querydict_as_the_page_has_it():
    query = QueryDict("page=4&status=running&label=2&label=1&ref=nav")
    assert sf.saved_filter_query(query) == "label=2&label=1&status=running"


def test_values_no_url_can_carry_are_dropped_from_the_query():
    # A lone surrogate (possible in a JSON string) cannot be encoded, so it cannot be a filter.
    assert sf.saved_filter_query({"q": "\ud800", "status": "draft"}) == "status=draft"


def test_a_query_with_more_parameters_than_django_parses_is_invalid(marketer):
    raw = "&".join(f"label={i}" for i in range(5000))
    with pytest.raises(Invalid) as refused:
        sf.saved_filter_create(actor=marketer, name="Many", query=raw)
    assert refused.value.errors == {"query": ["The filter has too many parameters to be saved."]}
    assert not SavedFilter.objects.exists()


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
def test_saving_keeps_the_trimmed_name_and_the_normalised_query(marketer):
    saved = sf.saved_filter_create(
        actor=marketer, name="  Running pushes ", query="?page=2&status=running&channel=push"
    )
    saved.refresh_from_db()
    assert (saved.user, saved.name, saved.query) == (
        marketer,
        "Running pushes",
        "channel=push&status=running",
    )
    assert saved.get_absolute_url() == "/campaigns/?channel=push&status=running"


def test_a_filter_with_no_parameters_links_to_the_whole_list(save):
    assert save("Everything", "page=3").get_absolute_url() == "/campaigns/"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", sf.NAME_REQUIRED),
        ("   ", sf.NAME_REQUIRED),
        (None, sf.NAME_REQUIRED),
        (42, sf.NAME_REQUIRED),
        ("x" * 81, "A name can be at most 80 characters; this one has 81."),
        ("Line\nbreak", sf.NAME_CONTROL),
        ("Nul\x00name", sf.NAME_CONTROL),
        ("Lone \ud800 surrogate", sf.NAME_CONTROL),
    ],
)
def test_a_name_breaking_a_rule_is_invalid_and_saves_nothing(marketer, name, problem):
    with pytest.raises(Invalid) as refused:
        sf.saved_filter_create(actor=marketer, name=name, query="status=running")
    assert refused.value.errors == {"name": [problem]}
    assert refused.value.message == problem
    assert not SavedFilter.objects.exists()


def test_a_name_of_80_characters_after_trimming_is_fine(save):
    assert save(" " + "x" * 80 + " ").name == "x" * 80


def test_a_name_already_used_by_the_same_user_in_any_case_is_taken(save):
    save("Weekly", "status=running")
    with pytest.raises(Invalid) as refused:
        save(" WEEKLY ", "status=draft")
    assert refused.value.errors == {"name": [TAKEN]}
    assert SavedFilter.objects.get().query == "status=running"


def test_another_user_may_use_the_same_name(save, other_marketer):
    save("Weekly")
    save("weekly", actor=other_marketer)
    assert SavedFilter.objects.count() == 2


def test_the_same_query_may_be_saved_under_two_names(save):
    save("Running", "status=running")
    save("Live", "status=running")
    assert SavedFilter.objects.count() == 2


def test_the_101st_saved_filter_is_refused(marketer, other_marketer, save):
    SavedFilter.objects.bulk_create(
        SavedFilter(user=marketer, name=f"Filter {i}", query="status=running")
        for i in range(sf.MAX_SAVED_FILTERS)
    )
    with pytest.raises(LimitReached) as refused:
        save("One more")
    assert refused.value.errors == {"name": ["The limit of 100 saved filters is reached."]}
    assert SavedFilter.objects.filter(user=marketer).count() == sf.MAX_SAVED_FILTERS
    # The cap is per user.
    save("Mine", actor=other_marketer)


def test_a_query_too_long_to_keep_is_invalid(save):
    with pytest.raises(Invalid) as refused:
        save("Long", "q=" + "x" * sf.MAX_QUERY_LENGTH)
    assert list(refused.value.errors) == ["query"]
    assert not SavedFilter.objects.exists()


def test_an_empty_name_and_a_long_query_are_both_reported(save):
    with pytest.raises(Invalid) as refused:
        save("", "q=" + "x" * sf.MAX_QUERY_LENGTH)
    assert set(refused.value.errors) == {"name", "query"}


# ---------------------------------------------------------------------------------------------
# Renaming and deleting
# ---------------------------------------------------------------------------------------------
def test_rename_changes_the_name_and_keeps_the_query(marketer, save):
    saved = save("Weekly", "status=running")
    sf.saved_filter_rename(actor=marketer, saved_filter_id=saved.pk, name="  Live pushes ")
    saved.refresh_from_db()
    assert (saved.name, saved.query) == ("Live pushes", "status=running")


def test_rename_may_change_only_the_case(marketer, save):
    saved = save("weekly")
    assert sf.saved_filter_rename(actor=marketer, saved_filter_id=saved.pk, name="Weekly").name == (
        "Weekly"
    )


def test_rename_to_another_of_ones_names_is_invalid(marketer, save):
    save("Weekly")
    daily = save("Daily")
    with pytest.raises(Invalid) as refused:
        sf.saved_filter_rename(actor=marketer, saved_filter_id=daily.pk, name="weekly")
    assert refused.value.errors == {"name": [TAKEN]}
    daily.refresh_from_db()
    assert daily.name == "Daily"


def test_rename_to_a_name_another_user_has_is_fine(marketer, other_marketer, save):
    save("Weekly", actor=other_marketer)
    mine = save("Mine")
    sf.saved_filter_rename(actor=marketer, saved_filter_id=mine.pk, name="Weekly")
    assert names_of(marketer) == ["Weekly"]


@pytest.mark.parametrize("name", ["", "x" * 81, "tab\there"])
def test_rename_breaking_a_rule_changes_nothing(marketer, save, name):
    saved = save("Weekly")
    with pytest.raises(Invalid):
        sf.saved_filter_rename(actor=marketer, saved_filter_id=saved.pk, name=name)
    saved.refresh_from_db()
    assert saved.name == "Weekly"


def test_delete_removes_only_that_filter(marketer, save):
    weekly, daily = save("Weekly"), save("Daily")
    deleted = sf.saved_filter_delete(actor=marketer, saved_filter_id=weekly.pk)
    assert deleted.name == "Weekly"
    assert list(SavedFilter.objects.values_list("pk", flat=True)) == [daily.pk]


def test_deleting_twice_is_not_found_the_second_time(marketer, save):
    saved = save("Weekly")
    sf.saved_filter_delete(actor=marketer, saved_filter_id=saved.pk)
    with pytest.raises(NotFound):
        sf.saved_filter_delete(actor=marketer, saved_filter_id=saved.pk)


@pytest.mark.parametrize("bad_id", ["abc", None, -1, 0, 2**63, "12x"])
def test_ids_that_are_no_id_are_not_found(marketer, bad_id):
    with pytest.raises(NotFound):
        sf.saved_filter_rename(actor=marketer, saved_filter_id=bad_id, name="X")
    with pytest.raises(NotFound):
        sf.saved_filter_delete(actor=marketer, saved_filter_id=bad_id)
    with pytest.raises(NotFound):
        sf.saved_filter_get(user=marketer, saved_filter_id=bad_id)


# ---------------------------------------------------------------------------------------------
# Whose filters
# ---------------------------------------------------------------------------------------------
def test_each_user_sees_only_their_own_by_name_ignoring_case(marketer, other_marketer, save):
    save("beta")
    save("Alpha")
    save("Gamma")
    save("Omar's", actor=other_marketer)
    assert names_of(marketer) == ["Alpha", "beta", "Gamma"]
    assert names_of(other_marketer) == ["Omar's"]


def test_another_users_filter_is_not_found_and_stays_as_it_was(marketer, other_marketer, save):
    theirs = save("Theirs", "status=draft", actor=other_marketer)
    never = SavedFilter.objects.order_by("-pk").first().pk + 1000
    for pk in (theirs.pk, never):
        with pytest.raises(NotFound) as refused:
            sf.saved_filter_rename(actor=marketer, saved_filter_id=pk, name="Mine now")
        # The same words as for an id that never existed: nothing tells that it is someone's.
        assert refused.value.message == (
            f"Saved filter {pk} does not exist; it may have been deleted."
        )
        with pytest.raises(NotFound):
            sf.saved_filter_delete(actor=marketer, saved_filter_id=pk)
        with pytest.raises(NotFound):
            sf.saved_filter_get(user=marketer, saved_filter_id=pk)
    theirs.refresh_from_db()
    assert (theirs.name, theirs.user) == ("Theirs", other_marketer)


def test_every_role_may_keep_saved_filters(approver, admin):
    for user in (approver, admin):
        sf.saved_filter_create(actor=user, name="Mine", query="status=running")
        assert names_of(user) == ["Mine"]


def test_users_without_a_role_are_forbidden_and_see_none(outsider, marketer, save):
    saved = save("Weekly")
    SavedFilter.objects.create(user=outsider, name="Left over", query="")
    with pytest.raises(Forbidden):
        sf.saved_filter_create(actor=outsider, name="Mine", query="status=running")
    with pytest.raises(Forbidden):
        sf.saved_filter_rename(actor=outsider, saved_filter_id=saved.pk, name="Mine")
    with pytest.raises(Forbidden):
        sf.saved_filter_delete(actor=outsider, saved_filter_id=saved.pk)
    with pytest.raises(Forbidden):
        sf.saved_filter_get(user=outsider, saved_filter_id=saved.pk)
    assert sf.saved_filters_for(outsider) == []
    assert SavedFilter.objects.filter(user=outsider).count() == 1
    assert names_of(marketer) == ["Weekly"]


def test_deleting_a_user_deletes_their_saved_filters(other_marketer, save):
    save("Theirs", actor=other_marketer)
    other_marketer.delete()
    assert not SavedFilter.objects.exists()


# ---------------------------------------------------------------------------------------------
# Concurrent saves (real transactions on PostgreSQL)
# ---------------------------------------------------------------------------------------------
TIMEOUT = 30


def _race(user: User, *calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once, each in its own thread and transaction, while a third transaction
    holds the user's saved-filter lock until all of them queue behind it; results or exceptions."""
    out: list[Any] = [None] * len(calls)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(User.objects.select_for_update(no_key=True).filter(pk=user.pk))
                locked.set()
                release.wait(TIMEOUT)
        finally:
            locked.set()
            connections.close_all()

    def run(i: int, fn: Callable[[], Any]) -> None:
        try:
            out[i] = fn()
        except DomainError as exc:  # the outcome is what the test inspects
            out[i] = exc
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(TIMEOUT)
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0] >= len(calls):
                    break
            assert time.monotonic() < deadline, "the saves never queued on the lock"
            time.sleep(0.01)
    finally:
        release.set()
        holder.join(TIMEOUT)
        for thread in threads:
            thread.join(TIMEOUT)
    return out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_saves_of_one_name_at_once_keep_one(marketer):
    outcomes = _race(
        marketer,
        lambda: sf.saved_filter_create(actor=marketer, name="Weekly", query="status=running"),
        lambda: sf.saved_filter_create(actor=marketer, name="WEEKLY", query="status=draft"),
    )
    saved = [o for o in outcomes if isinstance(o, SavedFilter)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], Invalid) and refused[0].errors == {"name": [TAKEN]}
    assert SavedFilter.objects.filter(user=marketer).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_saves_racing_for_the_last_place_under_the_cap_keep_one(marketer):
    SavedFilter.objects.bulk_create(
        SavedFilter(user=marketer, name=f"Filter {i}", query="")
        for i in range(sf.MAX_SAVED_FILTERS - 1)
    )
    outcomes = _race(
        marketer,
        *(
            (lambda n=n: sf.saved_filter_create(actor=marketer, name=f"New {n}", query=""))
            for n in range(3)
        ),
    )
    assert sum(isinstance(o, SavedFilter) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, LimitReached) for o in outcomes) == 2, outcomes
    assert SavedFilter.objects.filter(user=marketer).count() == sf.MAX_SAVED_FILTERS


# ---------------------------------------------------------------------------------------------
# The page: the list shows them; save, rename, delete
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def browser(marketer) -> Client:
    client = Client()
    client.force_login(marketer)
    return client


def test_the_list_shows_the_users_saved_filters_as_links(
    browser, save, other_marketer, campaign_factory
):
    campaign_factory(status=Status.RUNNING)
    save("Running pushes", "status=running&channel=push")
    save("Not mine", "status=draft", actor=other_marketer)
    response = browser.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/campaigns/?channel=push&amp;status=running"' in html
    assert "Running pushes" in text(response)
    assert "Not mine" not in text(response)


def test_the_list_offers_its_own_filter_without_the_page_to_save(browser, save):
    save("Running", "status=running")
    response = browser.get(LIST, {"status": "running", "page": "1", "utm": "x"})
    assert response.context["current_query"] == "status=running"
    html = response.content.decode()
    assert '<input type="hidden" name="query" value="status=running">' in html
    # The saved filter matching the view on screen is marked as the current one.
    assert 'class="sf-link" aria-current="true"' in html


def test_saving_without_javascript_goes_to_the_saved_view(browser, marketer):
    response = browser.post(SAVE, {"name": " Running pushes ", "query": "status=running&page=2"})
    saved = SavedFilter.objects.get(user=marketer)
    assert (saved.name, saved.query) == ("Running pushes", "status=running")
    assert response.status_code == 302
    assert response["Location"] == "/campaigns/?status=running"
    page = browser.get(response["Location"])
    assert "Saved the filter “Running pushes”." in text(page)


def test_saving_with_htmx_answers_with_the_section(browser, marketer):
    response = browser.post(SAVE, {"name": "Drafts", "query": "status=draft"}, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "campaigns/_saved_filters.html"
    body = text(response)
    assert "Saved the filter “Drafts”." in body
    assert 'href="/campaigns/?status=draft"' in response.content.decode()
    assert names_of(marketer) == ["Drafts"]


@pytest.mark.parametrize(
    ("name", "error"),
    [("", sf.NAME_REQUIRED), ("x" * 81, "A name can be at most 80 characters; this one has 81.")],
)
def test_a_refused_save_shows_why_in_the_form_and_saves_nothing(browser, name, error):
    response = browser.post(SAVE, {"name": name, "query": "status=draft"}, **HTMX)
    assert response.status_code == 200
    assert error in text(response)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not SavedFilter.objects.exists()


def test_a_taken_name_is_shown_with_the_name_as_typed(browser, save):
    save("Weekly")
    response = browser.post(SAVE, {"name": "weekly", "query": "status=draft"}, **HTMX)
    assert TAKEN in text(response)
    assert 'value="weekly"' in response.content.decode()
    assert SavedFilter.objects.count() == 1


def test_a_refused_save_without_javascript_says_why_on_the_list(browser, save):
    save("Weekly")
    response = browser.post(SAVE, {"name": "WEEKLY", "query": "status=draft"}, follow=True)
    assert response.redirect_chain == [("/campaigns/?status=draft", 302)]
    assert TAKEN in text(response)
    assert SavedFilter.objects.count() == 1


def test_rename_with_htmx_shows_the_new_name(browser, save):
    saved = save("Weekly")
    response = browser.post(rename_url(saved), {"name": "Live", "query": "status=draft"}, **HTMX)
    assert "Renamed “Weekly” to “Live”." in text(response)
    saved.refresh_from_db()
    assert saved.name == "Live"


def test_rename_without_javascript_returns_to_the_list_as_it_was(browser, save):
    saved = save("Weekly")
    response = browser.post(rename_url(saved), {"name": "Live", "query": "q=sale"}, follow=True)
    assert response.redirect_chain == [("/campaigns/?q=sale", 302)]
    assert "Renamed “Weekly” to “Live”." in text(response)


def test_a_refused_rename_keeps_the_form_open_with_the_error(browser, save):
    save("Weekly")
    daily = save("Daily")
    response = browser.post(rename_url(daily), {"name": "WEEKLY", "query": ""}, **HTMX)
    html = response.content.decode()
    assert TAKEN in text(response)
    assert f'id="sf-rename-{daily.pk}" value="WEEKLY"' in html
    assert '<details class="sf-pop" open>' in html
    daily.refresh_from_db()
    assert daily.name == "Daily"


def test_delete_with_htmx_removes_it_from_the_section(browser, marketer, save):
    saved = save("Weekly")
    response = browser.post(delete_url(saved), {"query": ""}, **HTMX)
    assert "Deleted the saved filter “Weekly”." in text(response)
    assert "None yet." in text(response)
    assert names_of(marketer) == []


def test_delete_without_javascript_returns_to_the_list(browser, marketer, save):
    saved = save("Weekly")
    response = browser.post(delete_url(saved), {"query": "status=running"}, follow=True)
    assert response.redirect_chain == [("/campaigns/?status=running", 302)]
    assert "Deleted the saved filter “Weekly”." in text(response)
    assert names_of(marketer) == []


def test_another_users_filter_cannot_be_renamed_or_deleted_from_the_page(
    browser, other_marketer, save
):
    theirs = save("Theirs", actor=other_marketer)
    gone = f"Saved filter {theirs.pk} does not exist; it may have been deleted."
    response = browser.post(rename_url(theirs), {"name": "Mine", "query": ""}, **HTMX)
    assert gone in text(response) and "Theirs" not in text(response)
    response = browser.post(delete_url(theirs), {"query": ""}, follow=True)
    assert gone in text(response)
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_the_redirect_stays_on_the_campaign_list_whatever_is_posted(browser):
    response = browser.post(SAVE, {"name": "X", "query": "//evil.example/?status=draft"})
    assert response["Location"] == "/campaigns/?status=draft"
    response = browser.post(delete_url(999999), {"query": "https://evil.example/"})
    assert response["Location"] == "/campaigns/"


def test_posts_without_a_csrf_token_are_refused(marketer, save):
    saved = save("Weekly")
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert client.post(SAVE, {"name": "New", "query": ""}).status_code == 403
    assert client.post(rename_url(saved), {"name": "New", "query": ""}).status_code == 403
    assert client.post(delete_url(saved), {"query": ""}).status_code == 403
    assert names_of(marketer) == ["Weekly"]
    # The page's own token lets the same post through.
    token = client.get(LIST).cookies["csrftoken"].value
    response = client.post(SAVE, {"name": "New", "query": "", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert names_of(marketer) == ["New", "Weekly"]


def test_the_endpoints_take_only_posts(browser, save):
    saved = save("Weekly")
    for url in (SAVE, rename_url(saved), delete_url(saved)):
        assert browser.get(url).status_code == 405


def test_users_without_a_role_get_the_no_role_page(outsider, marketer, save):
    saved = save("Weekly")
    client = Client()
    client.force_login(outsider)
    assert client.post(SAVE, {"name": "Mine", "query": ""}).status_code == 403
    assert client.post(delete_url(saved), {"query": ""}).status_code == 403
    assert not SavedFilter.objects.filter(user=outsider).exists()
    assert names_of(marketer) == ["Weekly"]


def test_anonymous_posts_go_to_the_login_page():
    response = Client().post(SAVE, {"name": "Mine", "query": ""})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not SavedFilter.objects.exists()


def test_the_list_reads_every_saved_filter_in_one_query(browser, save, campaign_factory):
    campaign_factory()
    save("Filter 0")
    with CaptureQueriesContext(connection) as one:
        browser.get(LIST)
    for i in range(1, 30):
        save(f"Filter {i}")
    with CaptureQueriesContext(connection) as many:
        response = browser.get(LIST)
    assert len(response.context["saved_filters"]) == 30
    assert len(many) == len(one)
    assert sum("campaigns_savedfilter" in q["sql"] for q in many.captured_queries) == 1
