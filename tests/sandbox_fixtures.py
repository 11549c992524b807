"""pytest fixtures that start the sandbox provider once per session (filled by the sandbox)."""
