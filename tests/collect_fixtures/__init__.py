"""Support for the collector tests: a moto server, targets on it, stubbed clients, and trail
log files in CloudTrail's own format."""
