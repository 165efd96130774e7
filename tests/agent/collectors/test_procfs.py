from __future__ import annotations

from agent.collectors.base import Sample
from agent.collectors.procfs import (
    clamp_ratio,
    counter_rate,
    parse_key_values,
    sample,
    unescape_mount_field,
)


def test_it_reads_the_first_number_of_meminfo_and_vmstat_lines() -> None:
    text = "MemTotal:       16384000 kB\nHugePages_Total:       0\npswpin 12\nbogus line\n"

    assert parse_key_values(text) == {"MemTotal": 16384000, "HugePages_Total": 0, "pswpin": 12}


def test_it_undoes_the_octal_escapes_of_mount_points() -> None:
    assert unescape_mount_field(r"/srv/data\040archive\011tab") == "/srv/data archive\ttab"


def test_octal_escapes_stand_for_bytes_of_utf_8() -> None:
    assert unescape_mount_field(r"/media/caf\303\251\012x") == "/media/caf\u00e9\nx"
    assert unescape_mount_field(r"/a\134040b") == "/a\\040b"  # an escaped backslash
    assert unescape_mount_field(r"/bad\377byte") == "/bad\ufffdbyte"
    assert unescape_mount_field("/plain/\u00e9") == "/plain/\u00e9"


def test_it_sorts_labels_of_a_sample() -> None:
    assert sample("x", 1, mountpoint="/", device="sda") == Sample(
        "x", 1.0, (("device", "sda"), ("mountpoint", "/"))
    )


def test_it_gives_no_rate_for_a_counter_that_went_backwards() -> None:
    assert counter_rate(100, 50, 5.0) is None
    assert counter_rate(100, 150, 0.0) is None
    assert counter_rate(100, 150, 5.0) == 10.0


def test_it_clamps_ratios_to_zero_and_one() -> None:
    assert (clamp_ratio(-0.1), clamp_ratio(0.3), clamp_ratio(1.02)) == (0.0, 0.3, 1.0)
