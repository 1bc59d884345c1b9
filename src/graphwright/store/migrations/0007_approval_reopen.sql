-- A decision whose resume run never ran (cancelled while pending) or was undone
-- (rolled back) did not reach the gate: the approval is pending again.
create or replace function gw_approvals_reopen() returns trigger
language plpgsql as $$
begin
    with reopened as (
        update gw_approvals
           set status = 'pending', decision = null, decided_by = null, decided_at = null,
               resume_run_id = null, sweep_until = null,
               -- a person cancelled the automatic decision: a person decides now
               expires_at = case when status = 'expired' then null else expires_at end
         where tenant_id = old.tenant_id and resume_run_id = old.run_id
           and status in ('decided', 'expired')
        returning tenant_id, approval_id, thread_id, run_id, workflow_id, node
    )
    insert into gw_audit (tenant_id, actor, action, subject, details)
    select tenant_id, 'system:reopened', 'approval.reopened', 'approval:' || approval_id,
           jsonb_build_object('approval_id', approval_id, 'thread_id', thread_id,
                              'run_id', run_id, 'workflow_id', workflow_id, 'node', node,
                              'cancelled_run_id', old.run_id, 'operation', tg_op)
      from reopened;
    return null;
end;
$$;

drop trigger if exists gw_runs_reopen_cancelled on gw_runs;
create trigger gw_runs_reopen_cancelled
    after update of status on gw_runs
    for each row when (old.status = 'pending' and new.status = 'interrupted')
    execute function gw_approvals_reopen();

drop trigger if exists gw_runs_reopen_rolled_back on gw_runs;
create trigger gw_runs_reopen_rolled_back
    after delete on gw_runs
    for each row when (old.cancel_action = 'rollback')
    execute function gw_approvals_reopen();
