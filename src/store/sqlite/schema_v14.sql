-- Migration 14: registry searches (issue 12's speed). MLflow's default order of a version search is
-- the newest change first (`last_updated_timestamp DESC`, then name and number): an index on
-- `updated_ms` lets a short page (`max_results=10`) read its rows in order instead of sorting every
-- version. Tag filters (`tags.validated = 'yes'`) start from the tags with that key and value
-- instead of probing each version's or model's tags. `version_number = 3` across models and
-- `source_path = '…'` read the versions that match instead of every version.
CREATE INDEX model_versions_by_updated ON model_versions(updated_ms);
CREATE INDEX model_versions_by_number ON model_versions(version);
CREATE INDEX model_versions_by_source ON model_versions(source);
CREATE INDEX model_version_tags_by_value ON model_version_tags(key, value);
CREATE INDEX registered_model_tags_by_value ON registered_model_tags(key, value);
