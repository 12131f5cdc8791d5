"""The fetcher against a real local server: retries, 429 waits, faults, size limits, sniffing, pooling."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from harvest.fetch import Fetcher, FetchOptions, retry_after, sniff
from manifests import NetworkError, schema
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, InFlight, Reply, json_reply

# Tests talk to 127.0.0.1, which the fetcher refuses unless told (SSRF guard): they opt in.
FAST = FetchOptions(backoff=0.001, max_backoff=0.002, timeout=5, retries=2, workers=4, per_host=4,
                    allow_private=True)


class Sleeps(list):
    """Records the waits the fetcher asks for instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def jpeg_reply(seed: int = 0) -> Reply:
    return Reply(media.jpeg(seed, (120, 90)), content_type="image/jpeg")


def test_ok_download_sniffs_type_and_sends_user_agent(web: FakeWeb) -> None:
    url = web.route("/a.jpg", jpeg_reply(1))
    with Fetcher(FetchOptions(user_agent="gleanset-test/1.0", allow_private=True)) as fetcher:
        result = fetcher.get(url)
    assert result.ok and result.data == media.jpeg(1, (120, 90))
    assert result.sniffed == "jpeg" and result.http_status == 200 and result.attempts == 1
    assert web.log[0].headers["User-Agent"] == "gleanset-test/1.0"


def test_429_honours_retry_after_then_succeeds(web: FakeWeb) -> None:
    url = web.route("/r.jpg", [Reply(b"slow down", 429, {"Retry-After": "7"}), jpeg_reply()])
    sleeps = Sleeps()
    result = Fetcher(FAST, sleep=sleeps).get(url)
    assert result.ok and result.attempts == 2 and sleeps == [7.0]


def test_429_honours_reddit_ratelimit_reset(web: FakeWeb) -> None:
    url = web.route("/r.jpg", [Reply(b"", 429, {"x-ratelimit-reset": "42"}), jpeg_reply()])
    sleeps = Sleeps()
    assert Fetcher(FAST, sleep=sleeps).get(url).ok
    assert sleeps == [42.0]


def test_429_asking_too_long_fails_the_item_as_rate_limited(web: FakeWeb) -> None:
    url = web.route("/r.jpg", Reply(b"", 429, {"Retry-After": "3600"}))
    sleeps = Sleeps()
    result = Fetcher(FetchOptions(max_wait=60, allow_private=True), sleep=sleeps).get(url)
    assert result.status == schema.RATE_LIMITED and "429" in result.error and sleeps == []


def test_retry_after_as_http_date() -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}
    assert retry_after(headers, now=1445412480.0) == pytest.approx(30.0)
    assert retry_after({}) is None and retry_after({"x-ratelimit-reset": "12"}) == 12.0


def test_503_then_success_backs_off_with_jitter(web: FakeWeb) -> None:
    url = web.route("/s.jpg", [Reply(b"", 503), Reply(b"", 502), jpeg_reply()])
    sleeps = Sleeps()
    opts = FetchOptions(backoff=1.0, max_backoff=10.0, retries=3, allow_private=True)
    result = Fetcher(opts, sleep=sleeps).get(url)
    assert result.ok and result.attempts == 3 and web.hits("/s.jpg") == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_5xx_on_every_attempt_is_a_server_error_row(web: FakeWeb) -> None:
    url = web.route("/s.jpg", Reply(b"", 500))
    result = Fetcher(FAST).get(url)
    assert result.status == schema.SERVER_ERROR and result.attempts == 3
    assert "HTTP 500" in result.error and "3 attempts" in result.error


def test_404_is_not_retried(web: FakeWeb) -> None:
    result = Fetcher(FAST).get(web.url("/gone.jpg"))
    assert result.status == schema.HTTP_ERROR and result.http_status == 404
    assert result.error.startswith("HTTP 404") and web.hits("/gone.jpg") == 1


def test_connection_reset_mid_body_is_retried(web: FakeWeb) -> None:
    url = web.route("/x.jpg", [Reply(media.jpeg(3, (300, 200)), fault="reset"), jpeg_reply(3)])
    result = Fetcher(FAST).get(url)
    assert result.ok and result.attempts == 2 and result.data == media.jpeg(3, (120, 90))


def test_truncated_body_every_time_is_a_truncated_row(web: FakeWeb) -> None:
    url = web.route("/t.jpg", Reply(media.jpeg(4, (300, 200)), fault="truncate"))
    result = Fetcher(FAST).get(url)
    assert result.status == schema.TRUNCATED and result.data is None
    assert web.hits("/t.jpg") == 3


def test_size_limit_aborts_the_stream(web: FakeWeb) -> None:
    big = media.png(5, (400, 400))
    url = web.route("/big.png", Reply(big))
    result = Fetcher(FetchOptions(max_bytes=10_000, allow_private=True)).get(url)
    assert result.status == schema.TOO_LARGE and result.data is None and "Content-Length" in result.error


def test_size_limit_without_content_length() -> None:
    """A chunked body with no length is cut off once it passes the limit, not read to the end."""
    import http.server
    import socketserver

    sent = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\xff" * 8192
            try:
                for _ in range(10_000):  # 80 MB if nobody stops reading
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent[0] += len(chunk)
            except OSError:
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stream"
        result = Fetcher(FetchOptions(max_bytes=100_000, allow_private=True)).get(url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.status == schema.TOO_LARGE and "aborted" in result.error
    assert sent[0] < 10_000 * 8192


def test_html_served_as_jpeg_is_sniffed(web: FakeWeb) -> None:
    url = web.route("/fake.jpg", Reply(media.html_page(), content_type="image/jpeg"))
    result = Fetcher(FAST).get(url)
    assert result.ok and result.content_type == "image/jpeg" and result.sniffed == "html"


def test_connection_refused_is_a_network_row() -> None:
    with FakeWeb() as dead:
        url = dead.url("/x.jpg")
    result = Fetcher(FAST).get(url)
    assert result.status == schema.NETWORK and "Connection" in result.error


@pytest.mark.parametrize(("data", "kind"), [
    (media.jpeg(), "jpeg"), (media.png(), "png"), (media.animated_gif(2), "gif"),
    (media.encode(media.photo(), "WEBP"), "webp"), (b"\x00\x00\x00\x18ftypmp42\x00", "mp4"),
    (b"<svg xmlns='x'/>", "svg"), (b'{"a": 1}', "json"), (b"hello", None)])
def test_sniff(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_get_json_raises_network_error_when_api_is_down(web: FakeWeb) -> None:
    web.route("/api", json_reply({"data": [1, 2]}))
    fetcher = Fetcher(FAST)
    assert fetcher.get_json(web.url("/api"), {"q": "x"}) == {"data": [1, 2]}
    assert web.log[-1].query == {"q": "x"}
    web.route("/down", Reply(b"", 503))
    with pytest.raises(NetworkError, match="503"):
        fetcher.get_json(web.url("/down"))


def test_mirrors_rewrite_requests_but_keep_the_asked_url(web: FakeWeb) -> None:
    web.route("/i.redd.it/abc.jpg", jpeg_reply(9))
    opts = FetchOptions(mirrors=(("https://i.redd.it/", web.url("/i.redd.it/")),), allow_private=True)
    result = Fetcher(opts).get("https://i.redd.it/abc.jpg")
    assert result.ok and result.url == "https://i.redd.it/abc.jpg"
    assert result.final_url == "https://i.redd.it/abc.jpg"


def test_map_runs_concurrently_within_the_per_host_limit(web: FakeWeb) -> None:
    flight = InFlight()
    slow = flight.slowed(lambda request: jpeg_reply(int(request.path.strip("/").split(".")[0])))
    urls = [web.route(f"/{i}.jpg", slow) for i in range(12)]
    fetcher = Fetcher(FetchOptions(workers=6, per_host=3, allow_private=True))
    results = list(fetcher.map(urls, lambda url, result: (url, result)))
    assert sorted(u for u, _ in results) == sorted(urls)
    assert all(r.ok for _, r in results)
    assert flight.peak == 3


def _etag_reject(url: str, headers) -> str | None:
    return f"tagged {headers['ETag']}" if headers.get("ETag") == '"known"' else None


def test_reject_ends_a_download_before_its_body_is_read(web: FakeWeb) -> None:
    # The body is cut short: reading it would end as ``truncated`` after retries, so a ``removed``
    # result at the first attempt shows the body was never read.
    tagged = web.route("/t.jpg", Reply(media.jpeg(2, (120, 90)), headers={"ETag": '"known"'},
                                       fault="truncate"))
    plain = web.route("/p.jpg", jpeg_reply(3))
    with Fetcher(dataclasses.replace(FAST, reject=_etag_reject)) as fetcher:
        refused, kept = fetcher.get(tagged), fetcher.get(plain)
    assert refused.status == schema.REMOVED and refused.error == 'tagged "known"'
    assert refused.data is None and refused.attempts == 1 and refused.final_url == tagged
    assert kept.ok and kept.data == media.jpeg(3, (120, 90))
    with Fetcher(FAST) as fetcher:  # without the check the same answer is read (and found short)
        assert fetcher.get(tagged).status == schema.TRUNCATED
