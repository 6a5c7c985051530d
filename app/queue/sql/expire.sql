-- expire: every claim past its deadline goes back to open (a known-answer task is cancelled,
-- as on release), its draft review deleted and its reviewer recorded in past_claims (as on
-- release), in one statement; rows another sweeper holds are skipped, so two sweepers never
-- expire the same claim twice.
-- Out: (id, reviewer_id) of each expired claim.
WITH expired AS (
    SELECT id FROM review_tasks
     WHERE state = 'claimed' AND lease_expires_at < now()
       FOR UPDATE SKIP LOCKED
), drafts AS (
    DELETE FROM reviews WHERE task_id IN (SELECT id FROM expired) AND state = 'draft'
), previous AS (
    SELECT t.id, t.reviewer_id FROM review_tasks t JOIN expired USING (id)
), past AS (
    INSERT INTO past_claims (task_id, reviewer_id)
    SELECT id, reviewer_id FROM previous
    ON CONFLICT DO NOTHING
)
UPDATE review_tasks
   SET state = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                 WHERE e.submission_id = review_tasks.submission_id)
                    THEN 'cancelled' ELSE 'open' END,
       reviewer_id = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                       WHERE e.submission_id = review_tasks.submission_id)
                          THEN review_tasks.reviewer_id END,
       lease_expires_at = NULL, claimed_at = NULL,
       extended = false, lease_version = review_tasks.lease_version + 1
  FROM previous
 WHERE review_tasks.id = previous.id
RETURNING review_tasks.id, previous.reviewer_id
