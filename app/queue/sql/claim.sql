-- claim: the one statement that grants a claim, in one round trip. Re-checks that the task is
-- open and that the reviewer is eligible (app.access.ELIGIBLE_SQL, spliced in below), bumps
-- the fencing lease_version, starts the lease (the credential's length, else :seconds) and
-- tells the earner (a notifications row). The live-claim cap is enforced by the trigger on
-- review_tasks (migration 0006, SQLSTATE MX001), in this same statement.
-- In: :task, :reviewer, :school (lowercased or NULL), :seconds. Out: one row, or none when
-- the task is not open or the reviewer may not take it.
WITH target AS (
    SELECT review_tasks.id, submissions.id AS submission_id, submissions.earner_id,
           credentials.id AS credential_id, credentials.title,
           coalesce(credentials.lease_minutes * 60, :seconds) AS lease_seconds
      FROM review_tasks
      JOIN submissions ON submissions.id = review_tasks.submission_id
      JOIN credentials ON credentials.id = submissions.credential_id
      JOIN users AS earner ON earner.id = submissions.earner_id
     WHERE review_tasks.id = :task AND review_tasks.state = 'open'
       AND {eligible}
), won AS (
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
