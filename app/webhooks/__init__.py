"""Signed webhooks: platforms that would rather be told than poll the change feed.

- subscribers.py: add, pause, resume, list subscribers (URL, secret, events, filter);
- events.py: turns each subscriber's unread part of the change feed into deliveries,
  stored with their body before anything is sent;
- sender.py: sends the due deliveries, signed (signature.py), with retries and back-off,
  logs each attempt, pauses a subscriber after too many failures in a row.

`atlas jobs run webhooks` (a built-in job) does both steps under the job's lock.
"""
