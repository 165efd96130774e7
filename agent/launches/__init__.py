"""Application launch timing: passive detection, ready signals and the launch recorder."""
