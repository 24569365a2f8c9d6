"""The few server-rendered pages (the sign-in confirmation and its outcomes) and the sign-in email."""

from __future__ import annotations

from html import escape

# strict-origin: a Referer from these pages (whose address may hold a sign-in token) is at most the origin, and,
# unlike no-referrer, it lets the browser send the real Origin with the form's POST, which the Origin check needs.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="strict-origin">
<title>{title} · execintel</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<main class="narrow">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(title: str, body_html: str) -> str:
    """A complete page; ``body_html`` is trusted markup made here, every value in it already escaped."""
    return _PAGE.format(title=escape(title), body=body_html)


def verify_page(token: str) -> str:
    """The page a sign-in link opens: a button that POSTs the token (a mail scanner fetching the link signs no one
    in and uses nothing up)."""
    return page(
        "Sign in to execintel",
        f"""<p>Press the button to finish signing in. The link works once.</p>
<form method="post" action="/auth/verify">
<input type="hidden" name="token" value="{escape(token)}">
<button type="submit" class="primary">Sign in</button>
</form>""",
    )


def failed_page(why: str) -> str:
    """The page of a link that cannot sign anyone in, and why in plain words."""
    words = {"used": "This sign-in link was already used.", "expired": "This sign-in link has expired.",
             "unknown": "This sign-in link is not valid."}  # fmt: skip
    sentence = words.get(why, "This sign-in link cannot be used.")
    return page("Sign-in link not valid", f"<p>{escape(sentence)} Links work once, for 15 minutes.</p>"
                '<p><a href="/">Ask for a new link</a></p>')  # fmt: skip


def link_email(name: str, link: str, portfolio: str) -> tuple[str, str, str]:
    """(subject, text, html) of the sign-in email."""
    subject = f"Your sign-in link for {portfolio}"
    text = (f"Hello {name},\n\nSign in to the execintel dashboard of {portfolio}:\n\n{link}\n\n"
            "The link works once, for 15 minutes. If you did not ask for it, ignore this email.\n")  # fmt: skip
    html = (f"<p>Hello {escape(name)},</p><p>Sign in to the execintel dashboard of {escape(portfolio)}:</p>"
            f'<p><a href="{escape(link)}">Sign in</a></p><p>Or paste this address into your browser:<br>'
            f"{escape(link)}</p><p>The link works once, for 15 minutes. If you did not ask for it, ignore this "
            "email.</p>")  # fmt: skip
    return subject, text, html
