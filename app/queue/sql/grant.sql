-- grant (spliced into claim.sql and claim_next.sql after their `target` CTE, which names the
-- one open task to give): the fenced update that gives it to :reviewer (bumping
-- lease_version, starting the lease) and the earner's notification, in the same statement.
-- Out: the claim and the notification, or no row when the task was no longer open.
won AS (
    UPDATE review_tasks AS t
       SET state = 'claimed', reviewer_id = :reviewer, lease_version = t.lease_version + 1,
           claimed_at = now(), extended = false,
           lease_expires_at = now() + make_interval(secs => target.lease_seconds)
      FROM target
     WHERE t.id = target.id AND t.state = 'open'
 RETURNING t.id, t.pool, t.lease_version, t.lease_expires_at, t.extended,
           target.submission_id, target.earner_id, target.credential_id, target.title
), told AS (
    INSERT INTO notifications (user_id, kind, payload, created_at)
    SELECT earner_id, 'submission.claimed',
           jsonb_build_object('submission_id', submission_id::text, 'credential', title), now()
      FROM won
 RETURNING id, payload, created_at
)
SELECT won.id, won.pool, won.lease_version, won.lease_expires_at, won.extended,
       won.submission_id, won.earner_id, won.credential_id,
       told.id AS notification_id, told.payload, told.created_at AS notified_at
  FROM won CROSS JOIN told
