"""Progress as data: the time left in a stage, and how the page and the command line draw a step."""

from pudong_qa.cli_common import StepLine
from pudong_qa.progress import Eta, Step


def test_time_left_comes_from_the_units_done_so_far():
    now = [100.0]
    eta = Eta(clock=lambda: now[0])
    assert eta(Step("ocr", 0, 20)) is None  # nothing done yet: no guess
    now[0] = 106.0
    assert eta(Step("ocr", 3, 20)) == 34.0  # 2 s a page, 17 pages left
    now[0] = 107.0
    assert eta(Step("read", 0, 4)) is None  # a new stage starts its own clock


def test_the_page_bar_names_the_stage_pages_and_time_left_in_chinese():
    from pudong_qa.web.handlers import step_bar

    now, drawn = [0.0], []
    draw = step_bar(lambda share, desc: drawn.append((share, desc)), "正在读取 scan.pdf", Eta(clock=lambda: now[0]),
                    of_build=False)
    draw(Step("ocr", 0, 4))
    now[0] = 5.0
    draw(Step("ocr", 1, 4))
    assert drawn[0] == (0.0, "正在读取 scan.pdf:识别扫描页 (0 / 4 页)…")
    assert drawn[1] == (0.25, "正在读取 scan.pdf:识别扫描页 (1 / 4 页),约剩 15 秒…")


def test_the_command_line_prints_a_line_a_stage_off_a_terminal(capsys):
    line = StepLine(tty=False)
    for step in (Step("read", 0, 2), Step("read", 1, 2), Step("ocr", 0, 3), Step("ocr", 1, 3), Step("chunk")):
        line(step)
    assert capsys.readouterr().err.splitlines() == ["[read] 2", "[ocr] 3", "[chunk]"]
