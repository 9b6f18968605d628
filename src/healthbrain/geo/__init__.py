"""Administrative divisions, institutions, practitioners and family-doctor teams."""
