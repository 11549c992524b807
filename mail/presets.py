"""Server settings guessed from an email address, for the Other Provider form."""

KNOWN = {
    "fastmail.com": ("imap.fastmail.com", "smtp.fastmail.com"),
    "yahoo.com": ("imap.mail.yahoo.com", "smtp.mail.yahoo.com"),
    "icloud.com": ("imap.mail.me.com", "smtp.mail.me.com"),
    "me.com": ("imap.mail.me.com", "smtp.mail.me.com"),
    "zoho.com": ("imap.zoho.com", "smtp.zoho.com"),
    "aol.com": ("imap.aol.com", "smtp.aol.com"),
    "gmx.com": ("imap.gmx.com", "mail.gmx.com"),
}


def guess_servers(email: str) -> dict:
    domain = email.rpartition("@")[2].strip().lower()
    imap, smtp = KNOWN.get(domain, (f"imap.{domain}", f"smtp.{domain}") if domain else ("", ""))
    return {"imap_host": imap, "imap_port": 993, "imap_security": "ssl",
            "smtp_host": smtp, "smtp_port": 587, "smtp_security": "starttls", "username": email}
