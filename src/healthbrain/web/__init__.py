"""The web shell: templates, static assets, language, and the pages shared by the domains."""
