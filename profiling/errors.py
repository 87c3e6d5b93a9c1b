"""The one error type of the profiler: a message naming the file or endpoint and the fix."""

from stack_settings import StackError


class ProfilingError(StackError):
    """A trace, profile or setting the profiler cannot use; shown without a traceback."""
