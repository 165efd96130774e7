"""Hardware and software inventory: what the machine is, what it runs, what it could upgrade to."""
