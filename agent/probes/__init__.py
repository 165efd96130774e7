"""Active probes: timed HTTP(S) requests and timed commands, recorded as launch events."""
