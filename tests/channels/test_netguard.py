"""The guard that keeps webhooks off private networks: its table of refused addresses, the early
check a form can show, and the connect-time check that pins the address it checked."""

from __future__ import annotations

import socket

import httpx
import pytest

from channels.netguard import GuardedTransport, TargetRefused, check_url
from tests.channels.webhook_receiver import Receiver

ADVICE = "; an Admin can allow private targets"


def resolver_for(table: dict[str, list[str]], calls: list[str] | None = None):
    """getaddrinfo for made-up names (the one outbound seam: DNS); numbers resolve as usual."""

    def resolve(host, port, *args, **kwargs):
        if calls is not None:
            calls.append(host)
        if host not in table:
            return socket.getaddrinfo(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in table[host]
        ]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "target 127.0.0.1 is a loopback address"),
        ("http://127.1/hook", "target 127.1 (127.0.0.1) is a loopback address"),
        ("http://0x7f000001/hook", "target 0x7f000001 (127.0.0.1) is a loopback address"),
        ("http://10.0.0.5/hook", "target 10.0.0.5 is a private address"),
        ("http://172.16.3.4/hook", "target 172.16.3.4 is a private address"),
        ("https://192.168.1.1/hook", "target 192.168.1.1 is a private address"),
        ("http://169.254.169.254/latest", "target 169.254.169.254 is a link-local address"),
        ("http://100.64.0.1/hook", "target 100.64.0.1 is a shared (CGNAT) address"),
        ("http://0.0.0.0/hook", "target 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/hook", "target 224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/hook", "target 240.0.0.1 is a reserved address"),
        ("http://255.255.255.255/hook", "target 255.255.255.255 is a reserved address"),
        ("http://198.18.0.1/hook", "target 198.18.0.1 is a reserved address"),
        ("http://[::1]/hook", "target ::1 is a loopback address"),
        ("http://[::]/hook", "target :: is an unspecified address"),
        ("http://[::ffff:127.0.0.1]/hook", "target ::ffff:127.0.0.1 is a loopback address"),
        ("http://[::ffff:10.1.2.3]/hook", "target ::ffff:10.1.2.3 is a private address"),
        ("http://[2002:7f00:1::1]/hook", "target 2002:7f00:1::1 is a loopback address"),
        ("http://[64:ff9b::a00:1]/hook", "target 64:ff9b::a00:1 is a private address"),
        ("http://[fe80::1]/hook", "target fe80::1 is a link-local address"),
        ("http://[fd12:3456::1]/hook", "target fd12:3456::1 is a private address"),
        ("http://[ff02::1]/hook", "target ff02::1 is a multicast address"),
        ("http://[2001:db8::1]/hook", "target 2001:db8::1 is a reserved address"),
        ("http://intranet.test/hook", "target intranet.test (10.1.1.1) is a private address"),
        ("http://split.test/hook", "target split.test (192.168.0.9) is a private address"),
        ("http://metadata.test/hook", "target metadata.test (169.254.169.254) is a link-local"),
    ],
)
def test_private_targets_are_refused(url, reason):
    resolver = resolver_for(
        {
            "intranet.test": ["10.1.1.1"],
            # A name is as private as the most private address it resolves to.
            "split.test": ["93.184.215.14", "192.168.0.9"],
            "metadata.test": ["169.254.169.254"],
        }
    )

    refused = check_url(url, allow_private=False, resolver=resolver)

    assert refused is not None and refused.startswith(reason)
    assert refused.endswith(ADVICE)


def test_localhost_is_refused_by_its_resolved_address():
    refused = check_url("http://localhost:8000/hook", allow_private=False)

    assert refused is not None
    assert refused.startswith("target localhost (")
    assert "is a loopback address" in refused


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/hook",
        "http://[2606:4700:4700::1111]/hook",
        "http://[::ffff:8.8.8.8]/hook",
        "https://hooks.example.test/receive?x=1",
    ],
)
def test_public_targets_pass(url):
    resolver = resolver_for({"hooks.example.test": ["93.184.215.14", "2606:2800:21f::1"]})

    assert check_url(url, allow_private=False, resolver=resolver) is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hook", "http://10.0.0.5/hook", "http://[::1]/hook", "http://x.invalid/"],
)
def test_an_admin_may_allow_private_targets(url):
    assert check_url(url, allow_private=True) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "the URL's scheme must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "the URL's scheme must be http or https, not 'file'"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "the URL's scheme must be http or https"),
        ("example.com/hook", "the URL's scheme must be http or https, not 'none'"),
        ("http:///hook", "the URL has no host"),
        ("http://example.com:99999/", "the URL is not valid"),
    ],
)
def test_urls_that_are_not_http_targets_are_refused_even_when_private_ones_are_allowed(url, reason):
    refused = check_url(url, allow_private=True)

    assert refused is not None and refused.startswith(reason)


def test_a_host_that_does_not_resolve_is_reported():
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    refused = check_url("https://nowhere.test/", allow_private=False, resolver=fail)

    assert refused is not None and refused.startswith("the host nowhere.test does not resolve")


@pytest.fixture
def receiver():
    running = Receiver("whsec_" + "A" * 32).start()
    yield running
    running.stop()


def test_the_connection_goes_to_the_address_that_was_checked_with_one_lookup(receiver):
    """The name is resolved once per connection, by the guard, and the socket connects to that
    address: webhook.test resolves nowhere else, so reaching the receiver proves it."""
    calls: list[str] = []
    transport = GuardedTransport(
        allow_private=True, resolver=resolver_for({"webhook.test": ["127.0.0.1"]}, calls)
    )
    url = f"http://webhook.test:{receiver.port}/nowhere"
    with httpx.Client(transport=transport, trust_env=False) as client:
        first = client.post(url, content=b"{}")
        second = client.post(url, content=b"{}")

    # Unsigned, so the receiver refuses them: but it was reached, over one kept-alive connection.
    assert (first.status_code, second.status_code) == (401, 401)
    assert len(receiver.rejected) == 2
    assert calls == ["webhook.test"]
    assert len(receiver.connections) == 1


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["127.0.0.1"], "target rebind.test (127.0.0.1) is a loopback address"),
        (["93.184.215.14", "::1"], "target rebind.test (::1) is a loopback address"),
        (["::ffff:169.254.169.254"], "target rebind.test (::ffff:a9fe:a9fe) is a link-local"),
    ],
)
def test_the_connect_time_check_refuses_what_the_name_resolves_to_then(receiver, addresses, reason):
    """A name that passed an earlier check but resolves to a private address when the connection
    is opened (DNS rebinding) is refused there, before any byte is sent."""
    transport = GuardedTransport(
        allow_private=False, resolver=resolver_for({"rebind.test": addresses})
    )
    with httpx.Client(transport=transport, trust_env=False) as client:
        with pytest.raises(TargetRefused) as refused:
            client.post(f"http://rebind.test:{receiver.port}/ok", content=b"{}")

    assert str(refused.value).startswith(reason)
    assert receiver.connections == set()
