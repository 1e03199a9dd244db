"""Hand-authored standard frameworks (CIS, PCI DSS, HIPAA, SOC 2, GDPR) and their builders."""
