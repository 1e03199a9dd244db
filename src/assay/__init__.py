"""Assay: a self-hosted audit evidence manager that speaks the AWS Audit Manager API."""

__version__ = "0.1.0"
