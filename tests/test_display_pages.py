"""display/pages.py: a long column in pages of as many rows as fit."""
from display import pages


def test_sixty_counters_where_thirteen_fit_take_five_turns():
    # 13 rows of 40 px with 2 px between them: 13 * 40 + 12 * 2 = 544 px.
    shown = [pages.page(60, 544, 40, 2, elapsed=k * pages.PAGE_S) for k in range(6)]
    assert [(p.start, p.stop) for p in shown[:5]] == [(0, 13), (13, 26), (26, 39), (39, 52), (52, 60)]
    assert {p.per_page for p in shown} == {13}
    assert [p.mark for p in shown] == ["1/5", "2/5", "3/5", "4/5", "5/5", "1/5"]
    # Within a page's seconds the page stays.
    assert pages.page(60, 544, 40, 2, elapsed=pages.PAGE_S - 0.01).number == 0


def test_a_column_that_fits_has_one_page_and_no_mark():
    p = pages.page(12, 544, 40, 2, elapsed=1000)
    assert (p.start, p.stop, p.count, p.mark) == (0, 12, 1, "")
    # One pixel short of a 14th row: still 13 a page.
    assert pages.page(14, 544 + 41, 40, 2, elapsed=0).count == 2
    assert pages.page(14, 544 + 42, 40, 2, elapsed=0).count == 1


def test_nothing_to_show_and_no_room_yet():
    assert pages.page(0, 544, 40, 2, elapsed=0).mark == ""
    # Before layout a column may have no height: one row a page, not a crash.
    p = pages.page(5, 0, 40, 2, elapsed=0)
    assert (p.per_page, p.count) == (1, 5)


def test_sizes_come_from_the_widest_16_9_picture_the_screen_holds():
    """16:9 either way up: its short side; squarer: the 16:9 picture as wide
    (a 4:3 monitor's letters as on a TV of its width); wider: its height."""
    from display.pages import short_side
    assert short_side(1920, 1080) == short_side(1080, 1920) == 1080
    assert short_side(1366, 768) == 768 and short_side(2560, 1080) == 1080
    assert short_side(1024, 768) == 576 and short_side(768, 1024) == 576
    assert short_side(1280, 1024) == 720 and short_side(800, 480) == 450
