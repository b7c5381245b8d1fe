import json

from sgdlab import report


def test_timings_are_summed_per_part(tmp_path):
    book = tmp_path / "book"
    (book / "partA").mkdir(parents=True)
    (book / "partA" / "index.md").write_text("(lbl)=\n# Part A · Title\n\ntext\n")
    t = tmp_path / "timings"
    t.mkdir()
    for page, sec in [("book/partA/01_x", 2.5), ("book/partA/02_y", 1.5), ("book/intro", 0.1)]:
        (t / (page.removeprefix("book/").replace("/", "__") + ".json")).write_text(json.dumps({"page": page, "seconds": sec}))
    timings = report.load_timings(t)
    assert timings == {"partA/01_x": 2.5, "partA/02_y": 1.5, "intro": 0.1}
    rows = report.timings_by_part(timings, book)
    assert ("Part A · Title", 2, 4.0) in rows and ("Front and back matter", 1, 0.1) in rows


def test_missing_timings_folder_gives_nothing(tmp_path):
    assert report.load_timings(tmp_path / "nope") == {}
