"""Why a row misses its target on this machine, and what would be needed (for RESULTS.md).

Kept beside the measurements so that a change of the code and of its explanation go together.
"""

from __future__ import annotations

from perf.report import EXPLANATIONS

EXPLANATIONS.update({
})
