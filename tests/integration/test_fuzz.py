"""The short fuzz run (issue 6) against every architecture and mode, in each protocol:
`make fuzz` runs the same driver (tests/fuzz.py) longer. The seed is printed; FUZZ_SEED
replays it."""

import os

import pytest

from conftest import CONFIGS, run_server
from fuzz import FRAMES, fuzz

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("protocol", list(FRAMES))
@pytest.mark.parametrize("name", list(CONFIGS))
def test_fuzz_leaves_the_server_whole(name, protocol, docker_client):
    arch, env = CONFIGS[name]
    seed = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None
    # No Docker healthcheck: its connections would blur the thread and fd baseline.
    with run_server(arch, docker={"healthcheck": {"test": ["NONE"]}}, **env, **FRAMES[protocol].LIMITS) as server:
        # HTTP's run is shorter: RESP's already covers how each design schedules the work.
        seconds = 6 if protocol == "resp" else 4
        report, settled, answers = fuzz(server, protocol=protocol, seed=seed, frames=6000, seconds=seconds, connections=12, valid=4)
    print(report.summary())
    assert report.frames >= 200, "the fuzzer barely ran"
    assert answers, "the server stopped answering its probe"
    assert not report.lost, f"valid connections lost replies: {report.lost[:5]}"
    assert report.valid_replies > 0
    assert not report.bad_errors, f"malformed frames not answered with a protocol error: {report.bad_errors[:5]}"
    assert report.protocol_errors_seen > 0
    assert report.after["protocol_errors"] - report.baseline["protocol_errors"] >= report.protocol_errors_seen
    assert settled, f"threads/fds did not return to baseline {report.baseline}: now {report.after}"
