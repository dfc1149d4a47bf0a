"""Email: SMTP sending (sender), signed links (links), the mails themselves (messages),
the editors' digest and notes, and `flask mail`."""
