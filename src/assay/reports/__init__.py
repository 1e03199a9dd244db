"""Assessment reports: the folder tree, the PDF summary, the signed digest and verification."""
