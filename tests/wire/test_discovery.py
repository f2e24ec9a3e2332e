"""Discovery files: written, found, read back, removed."""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from reload_server.wire import discovery


def test_find_skips_dead_processes_and_prefers_the_newest(tmp_path, monkeypatch):
    monkeypatch.delenv(discovery.ENV_DIR, raising=False)
    directory = tmp_path / discovery.DIR_NAME
    directory.mkdir()
    entries = {
        "old.json": {"pid": os.getpid(), "host": "127.0.0.1", "port": 1, "started": 1.0},
        "new.json": {"pid": os.getpid(), "host": "127.0.0.1", "port": 2, "started": 2.0},
        "dead.json": {"pid": 2**22 + 12345, "host": "127.0.0.1", "port": 3, "started": 3.0},
        "junk.json": "not an entry",
    }
    for name, data in entries.items():
        (directory / name).write_text(json.dumps(data))
    (tmp_path / "pkg").mkdir()

    found = discovery.find(tmp_path / "pkg" / "mod.py")

    assert [e.port for e in found] == [2, 1]


def test_write_then_remove(tmp_path, monkeypatch):
    monkeypatch.setenv(discovery.ENV_ROOT, str(tmp_path))
    monkeypatch.delenv(discovery.ENV_DIR, raising=False)

    path = discovery.write("127.0.0.1", 4242, None)

    assert discovery.find(tmp_path)[0].port == 4242
    discovery.remove(path)
    assert not os.path.exists(path)
    assert not (tmp_path / discovery.DIR_NAME).exists()


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_json_values)
def test_discovery_entries_are_json_that_reads_back_as_written(value):
    assert json.loads(discovery.encode(value)) == value


def test_a_discovery_entry_keeps_argv_with_quotes_newlines_and_non_ascii(tmp_path, monkeypatch):
    monkeypatch.setenv(discovery.ENV_ROOT, str(tmp_path))
    monkeypatch.delenv(discovery.ENV_DIR, raising=False)
    monkeypatch.setattr("sys.argv", ['app "x".py', "line\nbreak", "caf\u00e9 \U0001f600", "\\"])
    path = discovery.write("::1", 4243, 'tok"en')
    entry = discovery.read(path)
    assert entry is not None
    assert (entry.host, entry.port, entry.token) == ("::1", 4243, 'tok"en')
    assert entry.data["argv"] == ['app "x".py', "line\nbreak", "caf\u00e9 \U0001f600", "\\"]
    discovery.remove(path)
