"""URI and path mapping between an editor's machine and the app's."""

from __future__ import annotations

from reload_server.server.paths import Mapping, PathMapper, Roots


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
