"""The state changes of templates: save a draft as a template (or as a new version), use a
template, share, archive and restore."""
