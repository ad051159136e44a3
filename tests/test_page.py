"""The study's page (models/study/page.py): structure, embedded figures, links, and an answer
whose numbers are read from the tables."""

from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from models.study import page  # noqa: E402


class Outline(HTMLParser):
    """The page's sections (ids in order), links, images, and the answer's text."""

    def __init__(self):
        super().__init__()
        self.sections, self.links, self.images, self.table_ids = [], [], [], []
        self.answer_text, self._in_answer = [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
            self._in_answer = a["id"] == page.ANSWER
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "div" and a.get("class") == "table":
            self.table_ids.append(a["id"])

    def handle_endtag(self, tag):
        if tag == "section":
            self._in_answer = False

    def handle_data(self, data):
        if self._in_answer:
            self.answer_text.append(data)


def _figure(path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def _tables() -> list[page.PageTable]:
    milestones = pd.DataFrame({
        "regime": ["pre_2024", "law_2024"],
        "first deficit (calibrated prices)": [2025, 2027],
        "first deficit (economy's prices)": [2025, 2030],
        "depletion (calibrated prices)": [2032, 2041],
        "depletion (economy's prices)": [2033, 2043]})
    facts = pd.DataFrame({"item": ["pensioners"], "model": [1.0], "reported": [1.1]})
    runs = pd.DataFrame({"kind": ["experiment"], "name": ["baseline"], "seconds": [3.0]})
    return [
        page.PageTable("status_quo_milestones", "Milestones", milestones, "g", ("baseline",),
                       "status quo", "tables/status_quo_milestones.csv"),
        page.PageTable("calibration_reported_facts", "Facts", facts, "g", ("baseline",),
                       "calibration fit", "tables/calibration_reported_facts.csv"),
        page.PageTable("run_times", "Run times", runs, "g", (), "", "tables/run_times.csv"),
    ]


def test_page_opens_with_the_answer_then_sections_in_order(tmp_path):
    fig = page.PageFigure(_figure(tmp_path / "fan_total_population.png"), ("demography_mc",),
                          "demographic projection")
    out = page.write_page(tmp_path / "index.html", _tables(), [fig], "small")
    outline = Outline()
    outline.feed(out.read_text())
    assert outline.sections == [page.ANSWER, "calibration", "demography", "status-quo",
                                page.APPENDIX]
    assert not list(tmp_path.glob(".*.tmp"))  # written beside, then renamed
    # every table links to its CSV; the figure is embedded, not linked
    for href in ("tables/status_quo_milestones.csv", "tables/calibration_reported_facts.csv",
                 "tables/run_times.csv"):
        assert href in outline.links
    assert len(outline.images) == 1 and outline.images[0].startswith("data:image/png;base64,")
    assert "table-run_times" in outline.table_ids


def test_the_answer_reads_its_numbers_from_the_tables():
    tables = _tables()
    found, missing = page.headline_findings(tables)
    text = " ".join(s for s, _ in found)
    # the law_2024 row's numbers, not the pre_2024 row's, stand beside the law's regime
    assert "<b>law_2024</b>: the employee fund is first in deficit in 2027 and depleted in " \
           "2041 (2043 under the economy's prices)" in text
    assert {n for _, n in found} == {"status_quo_milestones"}
    # the tables that were not built are named, never filled with typed-in numbers
    assert any("status_quo_depletion_distribution" in m for m in missing)
    assert any("optimal_summary" in m for m in missing)
    tables[0] = page.PageTable(tables[0].name, "", tables[0].frame.drop(
        columns="depletion (calibrated prices)"), "g", (), "status quo", "x.csv")
    found, missing = page.headline_findings(tables)
    assert not found and any("depletion (calibrated prices)" in m for m in missing)


def test_the_answer_section_shows_the_missing_tables_as_notes(tmp_path):
    html = page.render_page(_tables(), [], "t", "s")
    outline = Outline()
    outline.feed(html)
    answer = " ".join(outline.answer_text)
    assert "2041" in answer and "optimal_summary" in answer


def test_the_answer_opens_with_each_optimal_policys_answer_tables():
    """Tables of the "answer" builder go to the answer section (before every other section),
    and each guarantee table gives one headline sentence with its figures as written."""
    guarantee = pd.DataFrame({
        "quantity": ["expected discounted cost: the objective, money beyond the fiscal "
                     "capacity weighted by its penalty (trillion yuan)",
                     "probability that every pension is paid in full within the fiscal "
                     "capacity (no money beyond the levers)",
                     "expected discounted money beyond the fiscal capacity (trillion yuan)",
                     "search"],
        "estimate": ["1,221 (95 % interval 1,204 to 1,237, 200 fresh paths)",
                     "37 % (95 % interval 30-44 %, 200 fresh paths)",
                     "12.5 (95 % interval 10.1 to 14.9, 200 fresh paths)",
                     "certified local optimum"]})
    answer = page.PageTable("answer_guarantee_optimal_two_stage", "Guarantee", guarantee, "",
                            ("optimal_two_stage",), page.ANSWER, "tables/answer.csv")
    tables = _tables() + [answer]
    found, _ = page.headline_findings(tables)
    sentence = [s for s, n in found if n == page.GUARANTEE]
    assert len(sentence) == 1
    assert "probability 37 % (95 % interval 30-44 %" in sentence[0]
    assert "money beyond the capacity 12.5 (95 % interval 10.1 to 14.9" in sentence[0]
    assert "search: certified local optimum" in sentence[0]
    outline = Outline()
    outline.feed(page.render_page(tables, [], "t", "s"))
    assert outline.table_ids[0] == "table-answer_guarantee_optimal_two_stage"
    assert outline.table_ids.count("table-answer_guarantee_optimal_two_stage") == 1
