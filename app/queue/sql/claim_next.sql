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
),
{grant}