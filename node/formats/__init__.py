"""File formats: schema.org JobPosting JSON-LD, candidate CSV, the skills vocabulary and its data."""
