-- LangGraph clients create threads before any run: a thread is bound to a
-- workflow (and version) by its first run.
alter table gw_threads alter column workflow_id drop not null;
alter table gw_threads alter column workflow_version drop not null;
