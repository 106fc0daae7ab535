"""An SMTP server on loopback for the e-mail tests (aiosmtpd): each message it accepts is parsed
with Python's own e-mail package and appended as one JSON line to a file: envelope, headers, and
the text and HTML bodies decoded.

    python scripts/smtp_sink.py --port 2525 --out messages.jsonl [--fail-first N] [--tls-cert C --tls-key K]

`--fail-first N` answers the first N messages with `451 4.3.0 try again later` (a transient
refusal a client retries). With `--tls-cert`/`--tls-key` the server offers STARTTLS and requires
it before MAIL (each record says whether the session was encrypted). The line
`listening on 127.0.0.1:PORT` on stdout says it is ready.
"""
import argparse
import email
import email.policy
import json
import ssl
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, fail_first):
        self.out = out
        self.fail_left = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "tls": session.ssl is not None,
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "headers": {k: str(v) for k, v in msg.items()},
            "contentType": msg.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 OK: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    a = p.parse_args()
    tls = {}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        tls = {"tls_context": ctx, "require_starttls": True}
    controller = Controller(Sink(a.out, a.fail_first), hostname="127.0.0.1", port=a.port, **tls)
    controller.start()
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
