from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Tests reach AWS only through moto: never let boto3 look for credentials on the instance
# metadata endpoint (a network address outside this machine).
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from support import (PG_ADMIN_URL, TEST_BUCKETS, AssayServer, backends,  # noqa: E402
                     drop_migrated_template)

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


# The longest test files, longest first: the summed wall time of their tests in a whole run
# (`make test` on 2 cores, 4 workers: about 210 s down to 25 s), where a file that keeps one
# core busy throughout (the clone's unit suite, the demo, the fuzz) is counted at twice its
# CPU time, what it takes while sharing the cores. With `--dist loadfile` a file runs whole on
# one worker, in collection order: a long file collected last would start when the others are
# nearly done and stretch the run's tail, so these are collected first, the longest first (the
# longest-processing-time rule); the others follow in their own order.
SLOW_FIRST = ("integration/test_fac.py", "e2e/test_console.py", "e2e/test_console_audit.py",
              "integration/test_lone_clone.py", "integration/test_demo.py",
              "integration/test_fuzz.py", "integration/test_org_scale.py",
              "integration/test_collection.py", "integration/test_load.py",
              "e2e/test_evidence_search.py", "integration/test_finder.py",
              "integration/test_reports.py", "integration/test_cli.py",
              "integration/test_ledger.py", "integration/test_ledger_parallel.py",
              "integration/test_standard_library.py", "e2e/test_console_sso.py",
              "unit/test_library_frameworks.py", "integration/test_fidelity.py",
              "integration/test_aws_cli.py", "e2e/test_console_reports.py",
              "integration/test_sharing.py")


def pytest_configure(config):
    # pytest-xdist (3.x) reorders --dist loadfile's files by test count, most tests first,
    # unless told not to: the one-test files that run longest (the clone, the demo, the fuzz)
    # would then start last and run alone at the end. SLOW_FIRST is the order wanted.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    rank = {name: position for position, name in enumerate(SLOW_FIRST)}
    tests = Path(__file__).parent

    def position(item) -> int:
        try:
            return rank.get(Path(item.fspath).relative_to(tests).as_posix(), len(rank))
        except ValueError:
            return len(rank)

    items.sort(key=position)  # stable: every file keeps its own order


def pytest_sessionstart(session):
    if "postgresql" in backends():
        try:
            psycopg.connect(PG_ADMIN_URL, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            # The suite runs on PostgreSQL too: a missing server is a failure, never a skip.
            raise pytest.UsageError(
                f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}\n"
                "Start it, point ASSAY_TEST_PG_URL at one, or set ASSAY_TEST_BACKENDS=sqlite.")


def pytest_sessionfinish(session):
    drop_migrated_template()


@pytest.fixture(scope="module", params=backends())
def server(request, tmp_path_factory):
    """A real Assay server for the module, once per storage backend."""
    instance = AssayServer.start(tmp_path_factory.mktemp("assay-home"), request.param,
                                 s3_buckets=TEST_BUCKETS)
    yield instance
    instance.stop()


@pytest.fixture
def admin(server):
    return server.client()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
