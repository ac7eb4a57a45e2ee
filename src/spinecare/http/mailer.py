"""The worker that e-mails alerts after their transaction has committed, off the request path.

One daemon thread per app, started with the app when SMTP is configured. It runs
:func:`spinecare.service.notifications.deliver_due` whenever a request that may have raised an
alert wakes it (:func:`wake`), and every ``Settings.mail_poll_seconds`` besides, which picks up
retries and alerts raised by other processes. An error in one round is logged and the next
round starts as usual: e-mail must never take the service down.
"""

from __future__ import annotations

import logging
import threading

from fastapi import Request

from spinecare.service import education, signin
from spinecare.service.notifications import Delivery, SmtpSettings, deliver_due
from spinecare.store.db import Database
from spinecare.store.stamps import utcnow

log = logging.getLogger("spinecare.mail")


class MailWorker:
    def __init__(self, db: Database, smtp: SmtpSettings, public_url: str, poll_seconds: float,
                 secret_key: str = ""):
        self.db, self.smtp, self.public_url = db, smtp, public_url
        # Signs the links of patient sign-in e-mails (none are sent without it).
        self.secret_key = secret_key
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spinecare-mail",
                                            daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_once(self) -> Delivery:
        now = utcnow()
        alerts = deliver_due(self.db, self.smtp, self.public_url, now)
        # Articles sent to patients go out on the same rounds, after the care team's alerts.
        reading = education.deliver_due(self.db, self.smtp, self.public_url, now)
        links = signin.deliver_due(self.db, self.smtp, self.public_url, self.secret_key, now) \
            if self.secret_key else Delivery()
        return Delivery(alerts.queued, alerts.sent + reading.sent + links.sent,
                        alerts.retrying + reading.retrying + links.retrying,
                        alerts.failed + reading.failed + links.failed)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                done = self.run_once()
                if done.retrying or done.failed:
                    log.warning("alert e-mail: %s sent, %s to retry, %s given up", done.sent,
                                done.retrying, done.failed)
            except Exception:  # the next round tries again; the rows keep the state
                log.exception("alert e-mail round failed")
            self.rounds += 1
            self._wake.wait(self.poll_seconds)


def wake(request: Request) -> None:
    """Tell the app's mail worker (if e-mail is on) that an alert may be waiting."""
    worker: MailWorker | None = getattr(request.app.state, "mailer", None)
    if worker is not None:
        worker.wake()
