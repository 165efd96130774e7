from __future__ import annotations

from dataclasses import dataclass, field

from agent.config import AppConfig
from agent.processes import (
    AppMatcher,
    AppMembership,
    ProcessInfo,
    ProcessUsage,
    program_names,
    resolve_apps,
)

APPS = (
    AppConfig(name="firefox", process_names=("firefox",)),
    AppConfig(name="toolbox", process_names=("jetbrains-toolbox",)),
    AppConfig(name="erp", process_names=("java",), cmdline_pattern=r"erp-client\.jar"),
)


def _unread() -> list[str]:
    raise AssertionError("read although comm decided")


def _no_exe() -> str | None:
    return None


def test_it_matches_on_comm_without_reading_the_command_line() -> None:
    assert AppMatcher(APPS[:1]).match("firefox", _unread, _unread) == "firefox"  # type: ignore[arg-type]


def test_it_reads_nothing_for_a_name_no_app_could_have_been_cut_from() -> None:
    assert AppMatcher(APPS).match("kworker/0:1-eve", _unread, _unread) is None  # type: ignore[arg-type]


def test_it_matches_a_cut_comm_through_argv0() -> None:
    app = AppMatcher(APPS).match(
        "jetbrains-toolb", lambda: ["/opt/jetbrains-toolbox/jetbrains-toolbox"], _no_exe
    )

    assert app == "toolbox"


def test_it_matches_a_cut_comm_through_the_executable_when_argv0_was_rewritten() -> None:
    matcher = AppMatcher([AppConfig(name="slack", process_names=("slack-desktop-app",))])

    app = matcher.match("slack-desktop-a", lambda: ["--type=renderer"], lambda: "slack-desktop-app")

    assert app == "slack"


def test_a_cut_comm_whose_program_is_another_does_not_match() -> None:
    matcher = AppMatcher([AppConfig(name="beta", process_names=("libreoffice-writer-beta",))])

    assert (
        matcher.match("libreoffice-wri", lambda: ["/opt/lo/libreoffice-writer-x"], _no_exe) is None
    )


def test_a_renamed_helper_is_not_itself_an_app_instance() -> None:
    # Firefox's content processes rename themselves; they belong to Firefox through its tree.
    matcher = AppMatcher(APPS)

    assert matcher.match("Web Content", lambda: ["/usr/lib/firefox/firefox"], _no_exe) is None


def test_it_finds_the_program_in_an_argv0_that_holds_the_whole_command_line() -> None:
    assert program_names(["/usr/lib/slack/slack-desktop-app --type=gpu"]) == {
        "slack-desktop-app --type=gpu",
        "slack-desktop-app",
    }


def test_it_requires_the_command_line_pattern_when_one_is_set() -> None:
    matcher = AppMatcher(APPS)

    erp = matcher.match("java", lambda: ["java", "-jar", "/opt/erp/erp-client.jar"], _no_exe)
    other = matcher.match("java", lambda: ["java", "-jar", "/opt/other/tool.jar"], _no_exe)

    assert (erp, other) == ("erp", None)


def test_it_gives_a_process_the_first_app_that_fits_in_configuration_order() -> None:
    matcher = AppMatcher(
        [
            AppConfig(name="erp", process_names=("java",), cmdline_pattern="erp"),
            AppConfig(name="any-java", process_names=("java",)),
        ]
    )

    assert matcher.match("java", lambda: ["java", "erp"], _no_exe) == "erp"
    assert matcher.match("java", lambda: ["java", "x"], _no_exe) == "any-java"


def test_it_gives_new_descendants_the_app_of_their_nearest_matched_ancestor() -> None:
    own: dict[int, tuple[str | None, int]] = {
        30: (None, 20),  # grandchild seen before its parent in iteration order
        20: (None, 10),
        10: ("firefox", 1),
        40: (None, 7),  # child of a process seen in an earlier call
        50: (None, 1),
        60: ("erp", 20),  # its own match wins over the inherited one
    }
    known = {1: None, 7: "toolbox"}

    assert resolve_apps(own, known) == {
        30: "firefox",
        20: "firefox",
        10: "firefox",
        40: "toolbox",
        50: None,
        60: "erp",
    }


def test_it_ends_a_parent_loop_without_an_app() -> None:
    assert resolve_apps({5: (None, 6), 6: (None, 5)}, {}) == {5: None, 6: None}


@dataclass
class FakeSource:
    """Processes as plain data: ``{pid: (ppid, name, state)}``."""

    table: dict[int, tuple[int, str, str]]
    argvs: dict[int, list[str]] = field(default_factory=dict)
    infos_read: list[int] = field(default_factory=list)

    def pids(self) -> set[int]:
        return set(self.table)

    def info(self, pid: int) -> ProcessInfo | None:
        self.infos_read.append(pid)
        if pid not in self.table:
            return None
        ppid, name, state = self.table[pid]
        return ProcessInfo(pid=pid, ppid=ppid, name=name, exited=state == "Z", start=pid * 10)

    def exe_name(self, pid: int) -> str | None:
        return None

    def argv(self, pid: int) -> list[str]:
        return self.argvs.get(pid, [])

    def usage(self, pid: int) -> ProcessUsage | None:
        return None


def test_an_exited_process_belongs_to_no_app_even_under_one() -> None:
    source = FakeSource({1: (0, "init", "S"), 10: (1, "firefox", "S"), 11: (10, "firefox", "Z")})
    membership = AppMembership(APPS)

    membership.refresh(source.pids(), source)

    assert membership.members() == {"firefox": {10}}


def test_a_shell_that_execs_the_app_after_it_was_seen_is_classified_again() -> None:
    source = FakeSource({1: (0, "init", "S")})
    membership = AppMembership(APPS)
    membership.refresh(source.pids(), source)
    source.table[50] = (1, "sh", "S")
    membership.refresh(source.pids(), source)

    source.table[50] = (1, "firefox", "S")
    again = membership.refresh(source.pids(), source)

    assert [(item.info.pid, item.verdict.own, item.again) for item in again] == [
        (50, "firefox", True)
    ]
    assert membership.members() == {"firefox": {50}}
    assert not membership.rechecks_pending


def test_processes_running_at_the_first_refresh_get_no_second_look() -> None:
    source = FakeSource({1: (0, "init", "S"), 2: (1, "bash", "S")})
    membership = AppMembership(APPS)
    membership.refresh(source.pids(), source)
    source.infos_read.clear()

    membership.refresh(source.pids(), source)

    assert source.infos_read == []
    assert not membership.rechecks_pending


def test_a_forgotten_pid_is_classified_afresh_and_vanished_ones_are_dropped() -> None:
    source = FakeSource({1: (0, "init", "S"), 10: (1, "firefox", "S"), 11: (10, "sh", "S")})
    membership = AppMembership(APPS)
    membership.refresh(source.pids(), source)

    del source.table[11]
    source.table[10] = (1, "java", "S")
    source.argvs[10] = ["java", "-jar", "erp-client.jar"]
    membership.forget(10)
    membership.refresh(source.pids(), source)

    assert membership.members() == {"erp": {10}}
    assert membership.app_of(11) is None
