"""The checklist: one module per check. Never imports Textual."""
