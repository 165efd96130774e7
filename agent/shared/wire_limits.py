"""The wire format's rules for text, in one place for both programs.

The advisor refuses a batch holding a string that breaks them (advisor.api.batch_rules); the
agent cleans what it reads so it never sends one (agent.text). Standard library only: the agent
imports it. docs/wire-format.md ("Limits") tables every rule with the advisor's other limits.
"""

from __future__ import annotations

import re

MAX_HOST_ID = 128  # the enrolment API's bound
MAX_HOSTNAME = 255  # a DNS name, and the enrolment API's bound
MAX_APP = 128  # config names; the report endpoint allows 64
MAX_VERSION = 256  # the longest Debian version of the recorded desktop has 33 characters
MAX_LABEL_VALUE = 1_024  # mount points are paths; PATH_MAX is 4,096 but real ones are short
MAX_SHORT_NAME = 64  # ready_signal, phase names, arch, disk names, bios_date (kernel: 32)
MAX_PROBE = 128
MAX_DETAIL = 1_000  # the agent's details are under 300: a probe's stderr tail is 200
MAX_PACKAGE = 256  # Debian allows any length; the longest recorded name has 41 characters
MAX_ORIGIN = 256  # apt prints every suite offering a version: "oldstable,oldstable-security"
MAX_DESCRIPTION = 256  # CPU model, disk model, machine vendor and model, OS name and version

HOST_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_HOST_ID - 1}}}")
"""A host id, matched whole: what enrolment takes (advisor.api.app.HOST_ID_PATTERN states
it for JSON Schema) and so what a batch may name."""

NAME_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""What no name may hold: C0 controls, DEL, C1 controls, the Arabic letter mark, bidirectional
marks, embeddings, overrides and isolates (they make a name read as another), line and
paragraph separators, and lone surrogates (no database can encode them)."""
TEXT_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""The same for free text (a launch's detail: a probe's stderr), which may also hold tabs and
line breaks."""
