"""The fetcher against hostile servers on 127.0.0.1: garbage rate-limit headers, endless waits,
trickling bodies, gzip (honest and bombs), redirects to private addresses and a memory budget."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvest import fetch as fetch_module
from harvest.fetch import Fetcher, FetchOptions, retry_after
from harvest.netguard import ByteBudget, Refused, WaitBudget, check_url
from manifests import schema
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, Reply

LOCAL = dict(backoff=0.001, max_backoff=0.002, timeout=5, retries=2, allow_private=True)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize("headers", [
    {"Retry-After": "-1"}, {"x-ratelimit-reset": "-1"}, {"Retry-After": "-0.5"},
    {"Retry-After": "nan"}, {"Retry-After": "inf"}, {"Retry-After": "1e400"},
    {"Retry-After": "soon"}, {"x-ratelimit-reset": "\x00\xff"}, {"Retry-After": "Mon, 99 Foo 1900"},
    {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"Retry-After": " "},
])
def test_every_rate_limit_header_parses_to_a_wait_that_is_never_negative(headers: dict) -> None:
    wait = retry_after(headers)
    assert wait is None or 0.0 <= wait < float("inf")


def test_a_negative_retry_after_from_a_server_does_not_crash_the_fetch(web: FakeWeb) -> None:
    url = web.route("/r.jpg", [Reply(b"", 429, {"x-ratelimit-reset": "-1"}),
                               Reply(b"", 503, {"Retry-After": "-7"}),
                               Reply(media.jpeg(1, (40, 30)), content_type="image/jpeg")])
    sleeps = Sleeps()
    result = Fetcher(FetchOptions(**LOCAL), sleep=sleeps).get(url)
    assert result.ok and sleeps == [0.0, 0.0]


def test_the_run_wait_budget_skips_urls_and_reports_them(web: FakeWeb) -> None:
    url = web.route("/slow.jpg", Reply(b"", 429, {"Retry-After": "300"}))
    sleeps = Sleeps()
    fetcher = Fetcher(FetchOptions(**{**LOCAL, "retries": 3}, max_wait=600, wait_budget=500),
                      sleep=sleeps)
    result = fetcher.get(url)
    assert result.status == schema.RATE_LIMITED and "wait budget" in result.error
    assert sleeps == [300.0]  # the second 300 s wait did not fit in the 500 s budget
    report = fetcher.report()
    assert report["skipped_wait_budget"] == 1 and report["skipped_examples"] == [url]


def test_a_wait_past_the_url_deadline_is_not_taken(web: FakeWeb) -> None:
    url = web.route("/slow.jpg", Reply(b"", 429, {"Retry-After": "300"}))
    sleeps = Sleeps()
    fetcher = Fetcher(FetchOptions(**LOCAL, max_wait=600, deadline=100), sleep=sleeps)
    result = fetcher.get(url)
    assert result.status == schema.RATE_LIMITED and "deadline" in result.error and sleeps == []
    assert fetcher.report()["skipped_deadline"] == 1


@pytest.fixture
def trickle() -> Iterator[str]:
    """A server that promises 100 000 bytes and sends one every 50 ms (bounded: 400 bytes at most)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                             b"Content-Type: image/jpeg\r\n\r\n")
                for _ in range(400):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        break
                    time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/t.jpg"
    stop.set()
    thread.join(5)
    server.close()


def test_a_trickling_server_is_cut_off_at_the_url_deadline(trickle: str) -> None:
    fetcher = Fetcher(FetchOptions(**{**LOCAL, "retries": 0}, deadline=1.0, chunk=64, spool_bytes=64,
                                   memory_budget=64))
    result = fetcher.get(trickle)
    assert result.status == schema.NETWORK and "deadline" in result.error
    assert fetcher.report()["skipped_deadline"] == 1


def test_an_honest_gzip_image_is_ok_not_truncated(web: FakeWeb) -> None:
    png = media.png(3, (64, 48))
    body = gzip.compress(png + b"\0" * 4000)  # compresses well: wire length < decoded length
    url = web.route("/g.png", Reply(body, headers={"Content-Encoding": "gzip"}))
    result = Fetcher(FetchOptions(**LOCAL)).get(url)
    assert result.ok and result.data == png + b"\0" * 4000 and result.attempts == 1


def test_a_gzip_bomb_is_refused_without_holding_its_decoded_size(web: FakeWeb) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    url = web.route("/bomb.jpg", Reply(bomb, headers={"Content-Encoding": "gzip"}))
    fetcher = Fetcher(FetchOptions(**LOCAL))
    result = fetcher.get(url)
    assert result.status == schema.TOO_LARGE and "decompression bomb" in result.error
    # stopped once decoded bytes passed 200x the wire bytes read (how many depends on how the
    # socket delivered them), never near the 64 MiB the body decodes to
    assert fetcher.memory.peak <= 200 * len(bomb) + 65_536 < 64 * 1024 * 1024
    assert fetcher.memory.used == 0


def test_the_memory_budget_bounds_bodies_in_flight(web: FakeWeb) -> None:
    url = web.route("/big.jpg", Reply(b"\xff\xd8\xff" + b"x" * 50_000))
    fetcher = Fetcher(FetchOptions(**{**LOCAL, "retries": 1}, memory_budget=10_000, chunk=4096,
                                   spool_bytes=100_000))
    result = fetcher.get(url)
    assert result.status == schema.NETWORK and "memory budget" in result.error
    assert fetcher.memory.peak <= 10_000 and fetcher.memory.used == 0
    budget = ByteBudget(10)
    assert budget.take(6) and not budget.take(5) and budget.used == 6
    waits = WaitBudget(5)
    assert waits.take(3) and not waits.take(3) and waits.take(2)


def test_private_targets_are_refused_by_default(web: FakeWeb) -> None:
    url = web.route("/a.jpg", Reply(media.jpeg(1, (40, 30))))
    result = Fetcher(FetchOptions(**{**LOCAL, "allow_private": False})).get(url)
    assert result.status == schema.REFUSED and "127.0.0.1" in result.error
    assert web.log == []  # never requested


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/x.jpg",
                                    "http://localhost:{port}/secret.jpg", "http://[::1]:{port}/secret.jpg"])
def test_every_redirect_hop_is_checked(web: FakeWeb, monkeypatch: pytest.MonkeyPatch,
                                       target: str) -> None:
    port = web.server.server_address[1]
    web.route("/secret.jpg", Reply(media.jpeg(2, (40, 30))))
    start = web.route("/start", Reply(b"", 302, {"Location": target.format(port=port)}))
    real = fetch_module.check_url
    hops: list[str] = []

    def first_hop_allowed(url: str, allow_private: bool, proxied: bool | None = None) -> None:
        hops.append(url)
        if url != start:  # the test server is the "public" first hop; every later hop is real
            real(url, allow_private, proxied)

    monkeypatch.setattr(fetch_module, "check_url", first_hop_allowed)
    result = Fetcher(FetchOptions(**{**LOCAL, "allow_private": False})).get(start)
    assert result.status == schema.REFUSED and len(hops) == 2
    assert web.hits("/secret.jpg") == 0


def test_behind_a_proxy_names_are_the_proxys_but_literal_private_addresses_are_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for url in ("https://10.0.0.5/x.jpg", "https://localhost/x.jpg", "https://[fd00::1]/x.jpg",
                "https://api.localhost/x"):
        with pytest.raises(Refused):
            check_url(url)
    check_url("https://images.internal.example/x.jpg")  # no DNS here: the proxy resolves it
    check_url("https://93.184.216.34/x.jpg")


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    host = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 80)}
    except OSError:
        pytest.skip(f"this machine's own name {host!r} does not resolve")

    if all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{host!r} resolves to public addresses only: {addresses}")
    with pytest.raises(Refused, match="resolves to"):
        check_url(f"http://{host}/x.jpg", proxied=False)
    check_url(f"http://{host}/x.jpg", allow_private=True)


def test_a_body_over_the_spool_size_is_streamed_to_disk_and_discarded_after_use(web: FakeWeb) -> None:
    body = b"\x1aE\xdf\xa3" + bytes(range(256)) * 400  # ~100 KB, "webm" by its first bytes
    url = web.route("/v.webm", Reply(body))
    fetcher = Fetcher(FetchOptions(**LOCAL, spool_bytes=10_000, chunk=4096))
    result = fetcher.get(url)
    assert result.ok and result.data is None and result.file and result.sniffed == "webm"
    assert result.body() == body and fetcher.memory.peak <= 10_000 + 4096
    assert fetcher.memory.used == 0
    result.discard()
    assert not Path(result.file).exists()
    seen = list(fetcher.map([url], lambda u, r: (r.file, r.body() == body)))
    (spooled, same), = seen
    assert same and not Path(spooled).exists()  # map deletes it once handled


def test_a_json_answer_over_the_spool_size_is_read_and_leaves_no_file(
        web: FakeWeb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API answer over spool_bytes (issue 25, item 16) is read from its spooled file, which is then
    deleted; before, get_json refused it and the gleanset-body-*.part file stayed behind."""
    monkeypatch.setattr(fetch_module.tempfile, "tempdir", str(tmp_path))
    body = ('{"data": [' + ", ".join(f'{{"id": "{i:06d}"}}' for i in range(5000)) + "]}").encode()
    url = web.route("/api.json", Reply(body, content_type="application/json"))
    fetcher = Fetcher(FetchOptions(**LOCAL, spool_bytes=10_000, chunk=4096))
    answer = fetcher.get_json(url)
    assert [row["id"] for row in answer["data"]] == [f"{i:06d}" for i in range(5000)]
    assert list(tmp_path.glob("gleanset-body-*")) == []


# -- the host the client connects to (issue 25, item 1) ---------------------------------------------
@pytest.fixture
def public_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """``example.com`` resolves to a public address without asking DNS; every other name as usual."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if str(host).lower().rstrip(".") == "example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port or 80))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


BACKSLASHED = ["http://127.0.0.1:{port}\\@example.com/x.png", "http://localhost:{port}\\@example.com/x.png",
               "http://127.1:{port}\\@example.com/x.png", "http://[::1]:{port}\\@example.com/x.png",
               "http://127.0.0.%31:{port}/x.png", "http://example.com@127.0.0.1:{port}/x.png",
               "http://example.com%2F@127.0.0.1:{port}/x.png"]


@pytest.mark.parametrize("template", BACKSLASHED)
def test_the_guard_judges_the_host_urllib3_connects_to(web: FakeWeb, public_example: None,
                                                       template: str) -> None:
    web.route("/x.png", Reply(media.png(1, (40, 30))))
    web.route("/%5C@example.com/x.png", Reply(media.png(1, (40, 30))))
    url = template.format(port=web.server.server_address[1])
    result = Fetcher(FetchOptions(**{**LOCAL, "allow_private": False})).get(url)
    assert result.status == schema.REFUSED, result
    assert web.log == []  # nothing reached the loopback server
    with pytest.raises(Refused):
        check_url(url)


def test_a_redirect_location_with_a_backslash_is_refused(web: FakeWeb, public_example: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    port = web.server.server_address[1]
    web.route("/%5C@example.com/secret.png", Reply(media.png(2, (40, 30))))
    start = web.route("/start", Reply(b"", 302, {
        "Location": f"http://127.0.0.1:{port}\\@example.com/secret.png"}))
    real = fetch_module.check_url

    def first_hop_allowed(url: str, allow_private: bool, proxied: bool | None = None) -> None:
        if url != start:  # the test server is the "public" first hop; the Location is judged for real
            real(url, allow_private, proxied)

    monkeypatch.setattr(fetch_module, "check_url", first_hop_allowed)
    result = Fetcher(FetchOptions(**{**LOCAL, "allow_private": False})).get(start)
    assert result.status == schema.REFUSED and "backslash" in result.error
    assert web.hits("/%5C@example.com/secret.png") == 0


def test_plain_public_urls_still_pass_the_guard(public_example: None) -> None:
    for url in ("http://example.com/x.png", "https://EXAMPLE.com./a\\b.png", "http://example.com/?q=a@b",
                "http://ex%61mple.com/x.png", "http://93.184.216.34:8080/x.png"):
        check_url(url)


# -- non-dotted IPv4 behind a proxy (issue 25, item 9) ----------------------------------------------
LOOPBACK_SPELLINGS = ["127.1", "0x7f000001", "2130706433", "017700000001", "0", "0x7f.1", "127.0.1",
                      "0177.0.0.1", "2852039166"]  # the last is 169.254.169.254


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_ipv4_literals_are_read_as_the_resolver_reads_them(host: str) -> None:
    from harvest.netguard import inet_aton

    assert inet_aton(host) == socket.inet_ntoa(socket.inet_aton(host))  # the C library's reading


def test_behind_a_proxy_non_dotted_private_ipv4_literals_are_refused(web: FakeWeb,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the loopback server is the proxy: it logs what the fetcher sends it (the target URL as path)
    web.route("/x.jpg", Reply(media.jpeg(1, (40, 30)), content_type="image/jpeg"))
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", web.base)
    fetcher = Fetcher(FetchOptions(**{**LOCAL, "allow_private": False}))
    for host in LOOPBACK_SPELLINGS:
        result = fetcher.get(f"http://{host}/x.jpg")
        assert result.status == schema.REFUSED, (host, result)
    assert web.log == []
    assert fetcher.get("http://images.example.org/x.jpg").ok  # names are still the proxy's to resolve
    assert fetcher.get("http://1.1/x.jpg").ok  # 1.0.0.1: public
    assert len(web.log) == 2


# -- credentials and redirects (issue 25, item 8) ---------------------------------------------------
CREDENTIALS = {"Authorization": "Bearer s3cret", "X-Subscription-Token": "brave-s3cret",
               "X-Api-Key": "k3y", "Cookie": "session=c00kie"}


def test_credentials_are_not_sent_to_another_origin_after_a_redirect(web: FakeWeb) -> None:
    with FakeWeb() as other:  # another port: another origin
        other.route("/x.jpg", Reply(media.jpeg(1, (40, 30)), content_type="image/jpeg"))
        web.route("/x.jpg", Reply(media.jpeg(1, (40, 30)), content_type="image/jpeg"))
        away = web.route("/away", Reply(b"", 302, {"Location": other.url("/x.jpg")}))
        home = web.route("/home", Reply(b"", 307, {"Location": "/x.jpg"}))
        fetcher = Fetcher(FetchOptions(**LOCAL))
        assert fetcher.get(away, headers={**CREDENTIALS, "Accept": "image/*"}).ok
        (sent,) = other.log
        assert not set(CREDENTIALS) & set(sent.headers) and sent.headers["Accept"] == "image/*"
        assert fetcher.get(home, headers=CREDENTIALS).ok  # the same origin keeps them
        assert {k: web.log[-1].headers.get(k) for k in CREDENTIALS} == CREDENTIALS


def test_a_token_post_is_guarded_follows_no_redirect_and_is_capped(web: FakeWeb) -> None:
    from manifests import NetworkError

    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "ov-secret"}
    with FakeWeb() as other:
        other.route("/steal", Reply(b'{"access_token": "t"}', content_type="application/json"))
        moved = web.route("/moved", Reply(b"", 307, {"Location": other.url("/steal")}))
        with pytest.raises(NetworkError, match="redirect"):
            Fetcher(FetchOptions(**LOCAL)).post_json(moved, form)
        assert other.log == []  # the client secret was not posted again elsewhere
    huge = web.route("/huge", Reply(b'{"access_token": "t", "pad": "' + b"a" * 2_000_000 + b'"}',
                                    content_type="application/json"))
    with pytest.raises(NetworkError, match="limit"):
        Fetcher(FetchOptions(**LOCAL)).post_json(huge, form)
    token = web.route("/token", Reply(b'{"access_token": "t"}', content_type="application/json"))
    assert Fetcher(FetchOptions(**LOCAL)).post_json(token, form) == {"access_token": "t"}
    web.log.clear()
    with pytest.raises(NetworkError, match=r"refused 127\.0\.0\.1"):
        Fetcher(FetchOptions(**{**LOCAL, "allow_private": False})).post_json(token, form)
    assert web.log == []



@pytest.mark.parametrize("location", ["http://[x/", "//[::1", "http://h:99999/"])
def test_an_unreadable_redirect_location_is_a_row_not_an_exception(web: FakeWeb, location: str) -> None:
    start = web.route("/start", Reply(b"", 302, {"Location": location}))
    with Fetcher(FetchOptions(**LOCAL)) as fetcher:
        assert list(fetcher.map([start], lambda url, result: result.status)) == [schema.NETWORK]
        assert "InvalidURL" in fetcher.get(start).error
