"""The /metrics reader shared by the tests, the experiments and the load generator."""

import http.server
import threading

from connlab_loadgen import exposition

TEXT = """\
# HELP connlab_requests_total Requests served.
# TYPE connlab_requests_total counter
connlab_requests_total{arch="hybrid",command="PING"} 16.0
connlab_requests_total{arch="hybrid",command="ECHO"} 5.0
# HELP connlab_threads Threads.
# TYPE connlab_threads gauge
connlab_threads 3.0
# HELP connlab_queue_wait_seconds Queue wait.
# TYPE connlab_queue_wait_seconds histogram
connlab_queue_wait_seconds_bucket{le="0.001"} 2.0
connlab_queue_wait_seconds_bucket{le="+Inf"} 4.0
connlab_queue_wait_seconds_count 4.0
connlab_queue_wait_seconds_sum 0.5
"""


def test_samples_by_name_and_totals_by_labels():
    found = exposition.samples(TEXT)
    assert [s.labels["command"] for s in found["connlab_requests_total"]] == ["PING", "ECHO"]
    assert exposition.total(found, "connlab_requests_total") == 21
    assert exposition.total(found, "connlab_requests_total", command="ECHO") == 5
    assert exposition.total(found, "connlab_requests_total", command="SLEEP") == 0
    assert exposition.total(found, "connlab_queue_wait_seconds_bucket", le="+Inf") == 4
    assert exposition.total(found, "connlab_threads") == 3
    assert exposition.total(found, "connlab_missing") == 0


def test_families_name_a_counter_without_total():
    names = [family.name for family in exposition.families(TEXT)]
    assert names == ["connlab_requests", "connlab_threads", "connlab_queue_wait_seconds"]


def test_fetch_reads_a_metrics_page():
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = TEXT.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert exposition.fetch(f"http://127.0.0.1:{server.server_port}/metrics") == TEXT
        finally:
            server.shutdown()
