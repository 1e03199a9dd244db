"""Framework sharing: StartAssessmentFrameworkShare and its workflow."""

from __future__ import annotations


class SharingService:
    def __init__(self, services):
        self.services = services
