from __future__ import annotations

import pytest

from agent.procfs import PidStat, parse_pid_stat

ODD_NAME = (
    "4242 (my (odd) app) S 812 4242 4242 0 -1 4194304 99 0 5 2 70 30 4 1 20 0 1 0 64164"
    " 3133440 356 18446744073709551615 1 1 0 0\n"
)


def test_it_splits_a_stat_line_after_the_last_parenthesis_of_the_name() -> None:
    assert parse_pid_stat(ODD_NAME) == PidStat(
        pid=4242,
        comm="my (odd) app",
        state="S",
        ppid=812,
        majflt=5,
        cmajflt=2,
        utime=70,
        stime=30,
        cutime=4,
        cstime=1,
        starttime=64164,
        rss_pages=356,
    )


def test_it_tells_its_own_cpu_from_that_of_reaped_children() -> None:
    stat = parse_pid_stat(ODD_NAME)

    assert (stat.own_cpu_ticks, stat.cpu_ticks, stat.major_faults) == (100, 105, 7)


def test_it_takes_a_name_that_is_only_a_closing_parenthesis() -> None:
    stat = parse_pid_stat(ODD_NAME.replace("(my (odd) app)", "())"))

    assert (stat.comm, stat.state, stat.ppid) == (")", "S", 812)


def test_a_zombie_has_exited() -> None:
    assert parse_pid_stat(ODD_NAME.replace(") S ", ") Z ")).exited


@pytest.mark.parametrize("line", ["4242 (cat) R 1 2 3", "", "4242 cat R" + " 0" * 30])
def test_it_refuses_what_is_not_a_whole_stat_line(line: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_pid_stat(line)
