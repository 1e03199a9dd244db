"""Assessment reports: CreateAssessmentReport and its siblings."""

from __future__ import annotations


class ReportService:
    def __init__(self, services):
        self.services = services
