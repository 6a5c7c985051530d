"""Web Push (RFC 8030, VAPID RFC 8292, aes128gcm RFC 8291): reaching a phone with MCX closed.

`keys` holds the server's VAPID keys, `kinds` what is pushed and how it reads, `subscriptions`
people's devices and choices, `outbox` turns notifications and ending claims into queued
pushes (`work`: new open work per pool, overdue work), and `delivery` hands one push to the
browser's push service.
"""
