"""The study build (eCRF metadata) lives here."""
