"""Peak resident memory of the running process, for the benchmarks' figures.

`resource.getrusage(RUSAGE_SELF).ru_maxrss` is not the process's own peak on Linux: at exec the kernel keeps
the larger of the new program's peak and the peak of the memory it replaces, which for a child that Python
starts with vfork is the parent's. A benchmark driver that has itself held 1.5 GB would report 1.5 GB for
every phase it runs in a fresh child. The kernel's high-water mark of the process's own memory (`VmHWM` in
/proc/self/status) starts from nothing at exec.
"""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (VmHWM; ru_maxrss where /proc is not there)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover - not Linux
