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
),
{grant}