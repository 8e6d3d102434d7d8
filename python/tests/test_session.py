"""show(), Session and the labels journal, as a notebook uses them: a screenshot through
show(screenshot=…), an explorer window on a virtual display whose labels are read live, and
labels given from Python in the explorer's journal."""

import os
import shutil
import struct
import subprocess
import time
import zlib

import numpy as np
import pytest

import ivt_explore as ivt
from conftest import run_program


@pytest.fixture(scope="module")
def display():
    """A virtual X display (Xvfb) for the explorer's window, as the Rust screenshot tests use."""
    if os.environ.get("IVT_SKIP_SCREENSHOT_TESTS"):
        pytest.skip("IVT_SKIP_SCREENSHOT_TESTS is set")
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed: `./run test` installs it")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read, 16)
        if not chunk:
            pytest.fail("Xvfb did not start")
        number += chunk
    os.close(read)
    yield f":{number.decode().strip()}"
    server.terminate()
    server.wait()


def png_pixels(path):
    """(width, height, the decompressed scanlines) of a PNG, without an imaging library."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.fixture
def data(tmp_path, blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "fish"])[y]
    return X, names


def test_screenshot_through_show_writes_the_view(tmp_path, monkeypatch, display, data):
    X, names = data
    monkeypatch.setenv("DISPLAY", display)
    out = tmp_path / "map.png"
    Y = ivt.umap(X)
    session = ivt.show(X, labels=names, layout=Y, screenshot=out, size=(640, 360),
                       labels_out=tmp_path / "labels")
    assert out.exists()
    width, height, pixels = png_pixels(out)
    assert (width, height) == (640, 360)
    # Drawn, not blank: many distinct byte values (panels, points in three class colours).
    assert len(set(pixels[: 640 * 4 * 200])) > 20
    assert session.labels() == {}
    assert not list(tmp_path.glob("ivt-explore-session-*")), "session files are removed"


def write_png(path, value, size=8):
    """A grey square PNG, without an imaging library."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes([value]) * size for _ in range(size))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_a_table_with_a_vector_column_and_image_paths_is_shown(tmp_path, monkeypatch, display,
                                                              data):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, names = data
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    paths = []
    for i in range(len(X)):
        write_png(tmp_path / "imgs" / f"{i}.png", 40 + i)
        paths.append(f"imgs/{i}.png")  # relative to the notebook's folder
    frame = pandas.DataFrame({"emb": list(X), "path": paths, "species": names,
                              "score": np.arange(len(X), dtype=float)})
    monkeypatch.setenv("DISPLAY", display)
    out = tmp_path / "table.png"
    session = ivt.show(frame, image_column="path", screenshot=out, size=(640, 360),
                       color_by="species", labels_out=tmp_path / "labels")
    assert png_pixels(out)[:2] == (640, 360)
    assert session.n_items == len(X)
    with pytest.raises(ValueError, match="image_column='nope': no such column"):
        ivt.show(frame, image_column="nope", screenshot=out)


def test_the_reference_tools_names_are_understood(tmp_path, monkeypatch, data):
    X, _ = data
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    (tmp_path / "imgs").mkdir()
    ivt.show(X, image_path=tmp_path / "imgs", num_clusters=5, method="tsne",
             plot_max_n_thumbnails=500, plot_thumbnails=False, screenshot=tmp_path / "x.png")
    command = seen["command"]
    for expected in [["--images", str(tmp_path / "imgs")], ["--clusters", "5"],
                     ["--method", "tsne"], ["--max-thumbnails", "500"]]:
        at = command.index(expected[0])
        assert command[at:at + 2] == expected, command
    assert "--no-thumbnails" in command


def test_show_refuses_bad_input_before_starting_anything(tmp_path, data):
    X, names = data
    with pytest.raises(ValueError, match="labels has 3 entries, features has 180 rows"):
        ivt.show(X, labels=["a", "b", "c"], screenshot=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"layout has shape \(180, 5\)"):
        ivt.show(X, layout=np.zeros((180, 5)), screenshot=tmp_path / "x.png")
    with pytest.raises(ValueError, match="does not exist"):
        ivt.show(tmp_path / "missing.npy", screenshot=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_notebook_labels_and_reads_the_labels_of_an_open_explorer(tmp_path, monkeypatch,
                                                                    display, data):
    X, names = data
    n = len(X)
    journal = tmp_path / "labels"
    # Labels given from Python before the window opens (the explorer shows them) ...
    assert ivt.add_labels(journal, {0: "positive", 5: "negative", 7: "positive"}, n) == 3
    assert ivt.labels(journal) == {0: "positive", 5: "negative", 7: "positive"}
    monkeypatch.setenv("DISPLAY", display)
    session = ivt.show(X, labels=names, layout=ivt.pca(X), labels_out=journal,
                       size=(800, 600), select=0)
    try:
        # ... the window opens and holds the journal: Python may no longer write to it, ...
        deadline = time.monotonic() + 120
        while True:
            try:
                ivt.add_labels(journal, {1: "positive"}, n)
            except ValueError as e:
                assert "held by another ivt-explore" in str(e)
                break
            # Not open yet: undo what was just written, and look again.
            ivt.add_labels(journal, {1: None}, n)
            assert session.running, session.log()
            assert time.monotonic() < deadline, "the explorer did not open the journal"
            time.sleep(0.5)
        # ... but reads it live, as the explorer appends.
        assert session.running, session.log()
        assert session.labels() == {0: "positive", 5: "negative", 7: "positive"}
    finally:
        session.close()
    assert not session.running
    # Closed: the journal is free again, and the labels stay.
    assert ivt.add_labels(journal, {9: "negative"}, n) == 1
    assert ivt.labels(journal, n) == {0: "positive", 5: "negative", 7: "positive", 9: "negative"}
    # The program's export reads the same journal.
    features = tmp_path / "features.npy"
    np.save(features, X)
    done = run_program("export-labels", features, "--labels-out", journal, "-o", tmp_path / "out")
    # Without images there is nothing to copy, but the CSV lists every label.
    if done.returncode == 0:
        listed = (tmp_path / "out" / "labels.csv").read_text()
        assert listed.count("positive") == 2


def test_labels_refuse_what_the_explorer_would(tmp_path):
    journal = tmp_path / "labels"
    with pytest.raises(ValueError, match="out of range"):
        ivt.add_labels(journal, {10: "positive"}, 10)
    with pytest.raises(ValueError, match="plain folder name|label"):
        ivt.add_labels(journal, {1: "../escape"}, 10)
    ivt.add_labels(journal, {1: "positive"}, 10)
    # A journal of a larger data set is not misread as this one's.
    ivt.add_labels(journal, {9: "negative"}, 10)
    # The message names the option as this user types it (`labels_out=`, not the program's
    # `--labels-out`).
    with pytest.raises(ValueError, match="line 2.*its own labels_out="):
        ivt.labels(journal, n_items=5)


def test_the_explorers_errors_name_options_as_each_user_typed_them(tmp_path, monkeypatch,
                                                                    display, data):
    X, _ = data
    monkeypatch.setenv("DISPLAY", display)
    with pytest.raises(RuntimeError, match=r"zoom= 0: must be a positive number"):
        ivt.show(X, layout="pca", zoom=0, screenshot=tmp_path / "no.png")
    np.save(tmp_path / "x.npy", X)
    done = run_program("screenshot", tmp_path / "x.npy", "--zoom", "0", "-o", tmp_path / "no.png")
    assert done.returncode != 0 and "--zoom 0: must be a positive number" in done.stderr
    assert not (tmp_path / "no.png").exists()


def test_the_program_is_installed_beside_the_package():
    done = run_program("--version")
    assert done.returncode == 0 and "ivt-explore" in done.stdout
    launcher = shutil.which("ivt-explore", path=os.path.dirname(os.sys.executable))
    if launcher is None:
        pytest.skip("not installed by pip here (run from the source tree)")
    done = subprocess.run([launcher, "info", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "Usage: ivt-explore info" in done.stdout
