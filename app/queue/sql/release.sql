-- release: the holder gives a task back, naming the lease_version they hold (fencing). The
-- task opens again, except a known-answer task (on a calibration example's hidden
-- submission), which is cancelled and keeps its reviewer so the example is not served to
-- them again. The lease_version is bumped, so every write under the old claim is refused,
-- and the reviewer is recorded in past_claims: a late write of theirs is told the claim is
-- gone (409), anyone else's finds no task (404).
-- In: :task, :reviewer, :version. Out: the task's id, or nothing (not theirs any more).
WITH released AS (
    UPDATE review_tasks
       SET state = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                     WHERE e.submission_id = review_tasks.submission_id)
                        THEN 'cancelled' ELSE 'open' END,
           reviewer_id = CASE WHEN EXISTS (SELECT 1 FROM calibration_examples e
                                           WHERE e.submission_id = review_tasks.submission_id)
                              THEN reviewer_id END,
           lease_expires_at = NULL, claimed_at = NULL,
           extended = false, lease_version = lease_version + 1
     WHERE id = :task AND reviewer_id = CAST(:reviewer AS uuid) AND lease_version = :version
       AND state = 'claimed'
    RETURNING id
), past AS (
    INSERT INTO past_claims (task_id, reviewer_id)
    SELECT id, CAST(:reviewer AS uuid) FROM released
    ON CONFLICT DO NOTHING
)
SELECT id FROM released
