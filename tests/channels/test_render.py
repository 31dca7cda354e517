"""Choosing and rendering each recipient's message."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.render import CONTROL, Plan, RenderError, _compile, bucket, render_message

TEMPLATES = [
    "Hi {{ profile.first_name | default('there') }}",
    "{{ profile.plan }} / {{ data.code }} / {{ campaign.name | upper }}",
    "{% if profile.vip %}VIP{% else %}{{ profile.first_name }}{% endif %}",
    "{% for t in profile.tags %}{{ t }},{% endfor %}",
]
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


@given(
    first=st.one_of(st.just(None), values),
    plan=values,
    vip=values,
    code=values,
    drop_first=st.booleans(),
)
def test_the_memo_renders_what_jinja_renders(first, plan, vip, code, drop_first) -> None:
    profile = {"first_name": first, "plan": plan, "vip": vip, "tags": ["a", "b"]}
    if drop_first:
        del profile["first_name"]
    context = {"profile": profile, "campaign": {"name": "Sale"}, "data": {"code": code}}
    for source in TEMPLATES:
        compiled = _compile(source, False)
        assert compiled.render(context) == compiled.template.render(context)
        # Twice: the second answer comes from the memo when the template has one.
        assert compiled.render(context) == compiled.template.render(context)


def test_which_templates_are_memoised() -> None:
    assert _compile(TEMPLATES[0], False).paths == (("profile", "first_name"),)
    assert _compile("{{ profile.items() }}", False).paths is None
    assert _compile(TEMPLATES[3], False).paths is None
    assert _compile("{{ [1, 2] | random }}", False).paths is None
    assert _compile("No template here", False) is None


def test_html_is_escaped_and_text_is_not() -> None:
    message = {"html": "<p>{{ profile.name }}</p>", "subject": "{{ profile.name }}"}
    out = render_message(message, {"profile": {"name": "<b>Ann</b>"}})
    assert out == {"html": "<p>&lt;b&gt;Ann&lt;/b&gt;</p>", "subject": "<b>Ann</b>"}


def test_a_template_failing_for_one_recipient_says_why() -> None:
    with pytest.raises(RenderError, match="template_error"):
        render_message({"body": "{{ 1 / profile.n }}"}, {"profile": {"n": 0}})


def test_ab_splits_and_control_group_are_deterministic_and_proportional() -> None:
    what = {
        "control_group": 10,
        "variants": [
            {"name": "A", "split": 30, "message": {"body": "a"}},
            {"name": "B", "split": 70, "message": {"body": "b"}},
        ],
    }
    plan = Plan(7, "ab_test", what)
    seen = Counter(plan.choose(pid, {})[0] for pid in range(20_000))
    assert abs(seen[CONTROL] / 20_000 - 0.10) < 0.01
    assert abs(seen["A"] / (20_000 - seen[CONTROL]) - 0.30) < 0.015
    assert [plan.choose(pid, {})[0] for pid in range(50)] == [
        Plan(7, "ab_test", what).choose(pid, {})[0] for pid in range(50)
    ]
    assert bucket(7, 1, "variant") == bucket(7, 1, "variant")


def test_message_on_user_property_picks_by_value_else_default() -> None:
    what = {
        "property": "plan",
        "messages": [{"value": "Pro", "message": {"body": "pro"}}],
        "default": {"body": "other"},
    }
    plan = Plan(1, "message_on_user_property", what)
    assert plan.choose(1, {"plan": "pro"}) == ("plan=pro", {"body": "pro"})
    assert plan.choose(1, {"plan": "free"}) == ("default", {"body": "other"})
    assert plan.choose(1, {}) == ("default", {"body": "other"})


def test_a_whole_message_renders_once_per_distinct_input() -> None:
    from channels.render import MessageTemplate

    message = {"subject": "Hi {{ profile.first_name }}", "html": "<p>{{ profile.plan }}</p>"}
    template = MessageTemplate(message)
    assert template.paths == (("profile", "first_name"), ("profile", "plan"))
    ann = template.render({"profile": {"first_name": "Ann", "plan": "pro"}})
    again = template.render({"profile": {"first_name": "Ann", "plan": "pro", "other": 1}})
    assert ann == {"subject": "Hi Ann", "html": "<p>pro</p>"} and again is ann
    assert template.render({"profile": {"first_name": "Ann"}}) == {
        "subject": "Hi Ann",
        "html": "<p></p>",
    }
    loop = MessageTemplate({"body": "{% for t in profile.tags %}{{ t }}{% endfor %}"})
    assert loop.paths is None
    assert loop.render({"profile": {"tags": ["a", "b"]}}) == {"body": "ab"}
