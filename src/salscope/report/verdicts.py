"""A finding's verdict: its status and the sentence that justifies it.

The rules that compute verdicts live with the findings, in
:mod:`salscope.study.findings`; this module only holds the record the report
renders, so the report (a lower floor) does not import the study.
"""

from __future__ import annotations

from dataclasses import dataclass

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
STATUSES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


@dataclass
class Verdict:
    """The outcome of one finding and the sentence that justifies it."""

    status: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "reason": self.reason}
