"""What a target's state reads, and when: the standard library on first use only, once; and
clients that share the SDK's static data but nothing of a session's own."""

from __future__ import annotations

import importlib
from datetime import datetime, timezone

import pytest

from assay.fac.documents import BadInput, Definitions, FrameworkSpec, Reference, Where
from assay.fac.plan import make_plan
from assay.fac.targets import Target, TargetState, read_state
from assay.model import sdk

# The module, not the package's ``targets`` function of the same name.
targets_module = importlib.import_module("assay.fac.targets")


class FakeClient:
    """An Audit Manager client with no custom content and a small standard library; it counts
    the listings it answers."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def list_controls(self, controlType, maxResults, nextToken=None):
        self.calls.append(("controls", controlType))
        if controlType == "Custom":
            return {"controlMetadataList": []}
        if nextToken is None:
            return {"controlMetadataList": [{"name": "S", "id": "s1"}, {"name": "T", "id": "t1"}],
                    "nextToken": "2"}
        return {"controlMetadataList": [{"name": "S", "id": "s2"}]}

    def list_assessment_frameworks(self, frameworkType, maxResults, nextToken=None):
        self.calls.append(("frameworks", frameworkType))
        items = [] if frameworkType == "Custom" else [{"name": "Std framework", "id": "f1"}]
        return {"frameworkMetadataList": items}


def definitions_naming(*refs: Reference) -> Definitions:
    where = Where("file", 1, "framework 'F'")
    definitions = Definitions()
    definitions.frameworks["F"] = FrameworkSpec({"name": "F"}, [("Set", list(refs))], where)
    return definitions


def test_standard_library_is_listed_on_first_use_only_and_once():
    client = FakeClient()
    state = read_state(client)
    assert client.calls == [("controls", "Custom"), ("frameworks", "Custom")]
    assert state.standard == {"S": ["s1", "s2"], "T": ["t1"]}  # both pages, every id per name
    assert state.standard == {"S": ["s1", "s2"], "T": ["t1"]}
    assert client.calls.count(("controls", "Standard")) == 2  # two pages, read once
    assert ("frameworks", "Standard") not in client.calls
    assert state.standard_frameworks == {"Std framework": "f1"}
    assert client.calls.count(("frameworks", "Standard")) == 1

    again = read_state(client, state)  # a re-read of the same target keeps what was listed
    assert again.standard is state.standard
    assert again.standard_frameworks is state.standard_frameworks
    assert client.calls.count(("controls", "Standard")) == 2


def test_a_plan_lists_the_standard_library_only_for_references_that_may_name_it():
    where = Where("file", 2, "control")
    client = FakeClient()
    with pytest.raises(BadInput) as refused:  # "Mine" is nowhere: Custom says where to look
        make_plan(Target(), definitions_naming(Reference("Mine", "Custom", where)),
                  read_state(client))
    assert "no custom control named 'Mine'" in str(refused.value.problems[0])
    assert ("controls", "Standard") not in client.calls

    client = FakeClient()
    with pytest.raises(BadInput) as refused:
        make_plan(Target(), definitions_naming(Reference("S", None, where)), read_state(client))
    assert "ambiguous: 2 standard controls" in str(refused.value.problems[0])
    assert ("controls", "Standard") in client.calls


def test_state_given_as_values_lists_nothing():
    state = TargetState({}, {}, {"Std": ["std-id"]})
    assert state.standard == {"Std": ["std-id"]} and state.standard_frameworks == {}
    assert TargetState({}, {}).standard == {}


def test_clients_share_static_data_not_sessions(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "one")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    first = Target("http://127.0.0.1:1", None, "eu-west-1").client()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "two")
    second = Target("http://127.0.0.1:2", None, "us-east-1").client()
    loader = first._loader
    assert second._loader is loader and loader in sdk._LOADERS.values()
    assert len(loader.search_paths) == len(set(loader.search_paths))  # boto3's folder once
    # Credentials, Region and endpoint are each client's own, read when it is made.
    assert first._request_signer._credentials.access_key == "one"
    assert second._request_signer._credentials.access_key == "two"
    assert (first.meta.region_name, first.meta.endpoint_url) == ("eu-west-1", "http://127.0.0.1:1")
    assert (second.meta.region_name, second.meta.endpoint_url) == ("us-east-1",
                                                                   "http://127.0.0.1:2")
    with pytest.raises(BadInput, match="could not be found"):
        Target(None, "no-such-profile", "us-east-1").client()


def test_epoch_timestamps_become_the_same_instant():
    parse = targets_module._timestamp
    assert parse(1795737600) == datetime(2026, 11, 27, tzinfo=timezone.utc)
    assert parse(1795737600.5).timestamp() == 1795737600.5
    assert parse("2026-11-27T00:00:00Z") == datetime(2026, 11, 27, tzinfo=timezone.utc)
