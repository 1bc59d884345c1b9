-- Event data keeps its key order (json, not jsonb), so a replayed event is
-- byte-for-byte the event that was sent live.
alter table gw_run_events alter column data type json using data::json;
