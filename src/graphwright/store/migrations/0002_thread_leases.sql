-- A running thread is held by one process under a lease it renews. When the
-- process dies the lease expires and another process may take the run over.
alter table gw_threads add column if not exists lease_owner text;
alter table gw_threads add column if not exists lease_expires_at timestamptz;

create index if not exists gw_threads_running_lease_idx
    on gw_threads (lease_expires_at) where status = 'running';
