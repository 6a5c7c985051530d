-- claim_next (PostgreSQL alone, while Redis rebuilds): take the best open task this reviewer
-- may review, skipping rows other racers have locked, so every racer gets a different task.
-- Same grant as claim.sql. In: :reviewer, :school, :seconds, :lead (trust lead seconds).
WITH target AS (
    SELECT review_tasks.id, submissions.id AS submission_id, submissions.earner_id,
           credentials.id AS credential_id, credentials.title,
           coalesce(credentials.lease_minutes * 60, :seconds) AS lease_seconds
      FROM review_tasks
      JOIN submissions ON submissions.id = review_tasks.submission_id
      JOIN credentials ON credentials.id = submissions.credential_id
      JOIN users AS earner ON earner.id = submissions.earner_id
      LEFT JOIN reviewer_standings mine
             ON mine.credential_id = credentials.id AND mine.reviewer_id = :reviewer
     WHERE review_tasks.state = 'open'
       AND {eligible}
     ORDER BY review_tasks.priority - coalesce(mine.trust, 75.0) / 100.0 * :lead,
              review_tasks.id
     LIMIT 1
       FOR UPDATE OF review_tasks SKIP LOCKED
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
