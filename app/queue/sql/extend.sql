-- extend: one more lease period, once per claim, while the lease is live; fenced by the
-- lease_version the holder names. In: :task, :reviewer, :version, :seconds.
-- Out: the new lease, or nothing (not theirs, run out, or extended already).
UPDATE review_tasks
   SET lease_expires_at = lease_expires_at + make_interval(secs => :seconds), extended = true
 WHERE id = :task AND reviewer_id = :reviewer AND lease_version = :version
   AND state = 'claimed' AND lease_expires_at > now() AND NOT extended
RETURNING lease_version, lease_expires_at, extended
