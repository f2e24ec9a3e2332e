"""The server's pure parts, without processes or sockets: paths, diagnostics, framing, discovery."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reload_server.core.results import Frame, Note, ReloadError, ReloadResult
from reload_server.runtime.runners import PollRunner, make_runner, poll
from reload_server.server.control import is_loopback, parse_address
from reload_server.server.diagnostics import notes_by_file, publish_params, utf16
from reload_server.server.paths import Mapping, PathMapper, Roots, path_to_uri, uri_to_path
from reload_server.wire import discovery
from reload_server.wire.framing import MAX_BODY, FrameError, FrameReader, encode

# -- paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("file:///home/me/a%20b.py", "/home/me/a b.py"),
        ("file:///C:/Users/me/app.py", "C:/Users/me/app.py"),
        ("file:///c%3A/Users/me/app.py", "c:/Users/me/app.py"),
    ],
)
def test_uri_to_path(uri, path):
    assert uri_to_path(uri) == path


def test_path_to_uri_round_trips():
    assert uri_to_path(path_to_uri("/srv/app/x y#.py")) == "/srv/app/x y#.py"


def test_mapping_from_a_windows_editor_to_a_linux_container():
    mapper = PathMapper([Mapping("C:\\work\\proj", "/app")])

    assert mapper.to_app("C:\\work\\proj\\pkg\\mod.py") == "/app/pkg/mod.py"
    assert mapper.to_app("file:///C:/work/proj/pkg/mod.py") == "/app/pkg/mod.py"
    assert mapper.to_client("/app/pkg/mod.py") == "C:\\work\\proj\\pkg\\mod.py"
    assert mapper.uri("/app/pkg/mod.py") == "file:///C:/work/proj/pkg/mod.py"


def test_the_longest_mapping_wins_and_prefixes_must_end_at_a_separator():
    mapper = PathMapper([Mapping("/l", "/r"), Mapping("/l/sub", "/other")])

    assert mapper.to_app("/l/sub/x.py") == "/other/x.py"
    assert mapper.to_app("/l/x.py") == "/r/x.py"
    assert mapper.to_app("/lx/x.py") == "/lx/x.py"


def test_roots_compare_real_paths(tmp_path):
    inside = tmp_path / "inside"
    inside.mkdir()
    (tmp_path / "outside.py").write_text("")
    (inside / "link.py").symlink_to(tmp_path / "outside.py")
    roots = Roots([inside])

    assert roots.allows(str(inside / "mod.py"))
    assert not roots.allows(str(inside / "link.py"))
    assert not roots.allows(str(tmp_path / "insider.py"))
    assert Roots(None).allows("/anything.py")


# -- diagnostics -----------------------------------------------------------------


def test_utf16_counts_astral_characters_twice():
    assert utf16("a\U0001f600b", 2) == 3
    assert utf16("abc", 2) == 2
    assert utf16(None, 5) == 5


def test_a_failed_reload_gives_its_files_their_notes_and_the_suffix(tmp_path):
    file = str(tmp_path / "m.py")
    error = ReloadError(
        "boom",
        phase="import",
        modules=("m",),
        files=(file,),
        notes=(Note("ValueError: x", file=file, line=2, kind="import"),),
        rolled_back=True,
    )

    [(path, [note])] = notes_by_file(error).items()

    assert path == file
    assert note.message == "ValueError: x (rolled back; the old code is still running)"


def test_a_successful_reload_clears_its_files(tmp_path):
    file = str(tmp_path / "m.py")

    assert notes_by_file(ReloadResult(("m",), (file,))) == {file: []}


def test_a_line_note_underlines_the_code_not_the_indentation(tmp_path):
    file = tmp_path / "m.py"
    file.write_text("def f():\n    raise ValueError('x')  \n")
    note = Note(
        "ValueError: x", file=str(file), line=2, column=1, frames=(Frame(str(file), 2, "f"),)
    )

    params = publish_params(str(file), [note], path_to_uri)

    [diagnostic] = params["diagnostics"]
    assert diagnostic["range"] == {
        "start": {"line": 1, "character": 4},
        "end": {"line": 1, "character": 25},
    }
    assert diagnostic["source"] == "reload_server"
    assert diagnostic["relatedInformation"][0]["location"]["uri"] == path_to_uri(str(file))


# -- framing ---------------------------------------------------------------------


def _frames(data: bytes, chunk: int | None = None) -> list[bytes]:
    """The bodies read from ``data`` fed ``chunk`` bytes at a time, then the end of stream."""
    reader = FrameReader()
    step = chunk or max(len(data), 1)
    frames = []
    for i in range(0, len(data), step):
        frames.extend(reader.feed(data[i : i + step]))
    if reader.error is not None:
        raise reader.error
    reader.close()
    return frames


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_frames_are_read_back_as_written_however_the_bytes_arrive(chunk):
    data = encode({"a": 1}) + b"\r\n" + encode({"b": "é"})
    assert _frames(data, chunk) == [b'{"a":1}', b'{"b":"\\u00e9"}']


def test_the_frames_before_a_framing_error_are_still_read():
    reader = FrameReader()
    assert reader.feed(encode({"a": 1}) + b"garbage\r\n\r\n" + encode({"b": 2})) == [b'{"a":1}']
    assert isinstance(reader.error, FrameError)
    assert reader.feed(encode({"c": 3})) == []


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1),
        b"Content-Length: abc\r\n\r\n{}",
        b"Content-Type: x\r\n\r\n{}",
        b"Content-Length: 10\r\n\r\n{}",
        b"Content-Len",
        b"garbage\r\n\r\n",
        b"X" * 9000,
    ],
    ids=[
        "oversized",
        "bad-length",
        "no-length",
        "truncated",
        "cut-header",
        "no-colon",
        "long-line",
    ],
)
def test_unreadable_frames_raise(data):
    with pytest.raises(FrameError):
        _frames(data)


# -- addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (8765, ("127.0.0.1", 8765)),
        ("8765", ("127.0.0.1", 8765)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
        ("[::1]:9", ("::1", 9)),
        (("localhost", 0), ("localhost", 0)),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", [70000, "host:port", True, ("h", "1")])
def test_parse_address_rejects(address):
    with pytest.raises((ValueError, TypeError)):
        parse_address(address)


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("")


# -- discovery -------------------------------------------------------------------


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


# -- runners ---------------------------------------------------------------------


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


def test_poll_runs_queued_jobs_on_the_calling_thread_only_when_called():
    runner = PollRunner()
    future = runner.submit(lambda: 42)

    assert not future.done()
    assert poll() == 1
    assert future.result(timeout=1) == 42
    assert poll() == 0


def test_closing_a_poll_runner_cancels_what_it_queued():
    runner = PollRunner()
    future = runner.submit(lambda: 42)

    runner.close()

    assert future.cancelled()
    assert poll() == 0


@pytest.mark.parametrize("spec", ["threads", 3, None])
def test_make_runner_rejects_unknown_runners(spec):
    with pytest.raises((ValueError, TypeError)):
        make_runner(spec)


@pytest.mark.parametrize("bad", [0, -0.001, 2.0, True, "0.001"])
def test_serve_refuses_a_switch_interval_that_is_not_a_short_time(bad):
    from reload_server.server import control

    with pytest.raises(ValueError, match="switch_interval"):
        control.serve(0, switch_interval=bad, discovery=False)
    assert control.address() is None
