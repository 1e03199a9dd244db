"""OSCAL in and out (https://pages.nist.gov/OSCAL/), written against OSCAL 1.2.1.

- ``framework``: a framework as a catalog, a profile and a component definition;
- ``results``: an assessment's evidence and review as assessment-results;
- ``reader``: an OSCAL catalog or profile planned as a custom framework;
- ``client``: the same through the Audit Manager API (boto3), for ``assay oscal``.

Documents are plain dicts; the transforms are pure functions over API-shaped dicts.
"""

from .common import ASSAY_NS, OSCAL_VERSION, OscalError
from .framework import catalog, component_definition, framework_documents, profile
from .reader import ImportPlan, plan_import
from .results import assessment_results

__all__ = [
    "ASSAY_NS",
    "OSCAL_VERSION",
    "ImportPlan",
    "OscalError",
    "assessment_results",
    "catalog",
    "component_definition",
    "framework_documents",
    "plan_import",
    "profile",
]
