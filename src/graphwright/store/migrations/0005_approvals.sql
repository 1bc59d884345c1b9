-- Approvals inbox: the expiry sweeper's claim lease, an index for counting and
-- listing pending approvals of every tenant (metrics, sweeper), and an audit log
-- that can only grow. Idempotent: every statement can run again.

-- A sweeper claims a due approval for a short while (FOR UPDATE SKIP LOCKED),
-- so sweepers of several processes never work on the same approval at once.
alter table gw_approvals add column if not exists sweep_until timestamptz;

create index if not exists gw_approvals_pending_idx
    on gw_approvals (created_at) where status = 'pending';

create index if not exists gw_approvals_resume_run_idx
    on gw_approvals (tenant_id, resume_run_id) where resume_run_id is not null;

create or replace function gw_audit_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'gw_audit is append-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

drop trigger if exists gw_audit_append_only_rows on gw_audit;
create trigger gw_audit_append_only_rows
    before update or delete on gw_audit
    for each row execute function gw_audit_append_only();

drop trigger if exists gw_audit_append_only_truncate on gw_audit;
create trigger gw_audit_append_only_truncate
    before truncate on gw_audit
    for each statement execute function gw_audit_append_only();
