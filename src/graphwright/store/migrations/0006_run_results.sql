-- The final body of a run (values with __interrupt__, or __error__), kept with the
-- run so /wait and /join read one row, even after a stateless run's thread is gone.
alter table gw_runs add column if not exists result jsonb;
