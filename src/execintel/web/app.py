"""The FastAPI app: ``create_app(config, store=..., mailer=..., jobs=...)``; no globals, no analysis imports.

Routes: sign-in (magic link, verify, logout), the report API, the SES webhook, the dashboard's static files.
What each route guarantees is in docs/web.md and docs/security.md.
"""

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from execintel.report_ids import TITLES
from execintel.run_ids import new_run_id
from execintel.web import models as m
from execintel.web.auth import COOKIE, Claims, RateLimiter, Sessions, new_link_token, same_token, token_hash
from execintel.web.config import LINK_SECONDS, WebConfig
from execintel.web.files import CHART, MAX_HTML, REPORT_HEADERS, RUN_ID, LocalFiles, ReportFiles
from execintel.web.history import HistoryCache
from execintel.web.http import Guard, client_ip, log_event
from execintel.web.jobs import AlreadyRunning, Job, JobQueue, Jobs, QueueFull
from execintel.web.pages import failed_page, link_email, verify_page
from execintel.web.webhook import Lazy, handle_sns, make_verifier

if TYPE_CHECKING:
    from execintel.config.models import Manifest, Stakeholder
    from execintel.config.settings import Settings
    from execintel.delivery.mailers.base import Mailer
    from execintel.store import Store

log = logging.getLogger("execintel.web")
STATIC = Path(__file__).with_name("static")
Runner = Callable[[Job], None]


class User:
    """The signed-in stakeholder of a request and their session."""

    def __init__(self, person: "Stakeholder", claims: Claims) -> None:
        self.person, self.claims = person, claims

    def may_read(self, report: str) -> bool:
        """Role name = report id; ``admin`` reads and runs every report."""
        return report in self.person.roles or "admin" in self.person.roles


class ManifestCache:
    """The portfolio's manifest, read again when its file changes (a role change applies at once)."""

    def __init__(self, path: Path, *, allow_outside: bool = False) -> None:
        from execintel.config.load import find_manifest  # noqa: PLC0415

        self.folder, self.path, self.allow_outside = path, find_manifest(path), allow_outside
        self._stamp: int | None = None
        self._manifest: Manifest | None = None
        self._lock = threading.Lock()

    def get(self) -> "Manifest":
        """The current manifest; the last good one when an edit made it invalid (logged)."""
        from execintel.config import load_portfolio  # noqa: PLC0415

        with self._lock:
            stamp: int | None
            try:
                stamp = self.path.stat().st_mtime_ns
            except OSError:
                stamp = self._stamp
            if self._manifest is None or stamp != self._stamp:
                try:
                    self._manifest = load_portfolio(self.folder, allow_outside=self.allow_outside).manifest
                except Exception as exc:
                    if self._manifest is None:
                        raise
                    log.error("the manifest could not be reloaded, keeping the previous one: %s", exc)
                self._stamp = stamp
            return self._manifest

    def person(self, *, email: str | None = None, subject: str | None = None) -> "Stakeholder | None":
        """The stakeholder with this email address (any case) or id."""
        for person in self.get().stakeholders:
            if (email is not None and person.email.lower() == email) or (subject is not None and person.id == subject):
                return person
        return None


def create_app(
    config: WebConfig, *, store: "Store", mailer: "Mailer", jobs: JobQueue | None = None,
    settings: "Settings | None" = None, runner: Runner | None = None, sns_fetch: Callable[[str], bytes] | None = None,
    files: ReportFiles | None = None,
) -> FastAPI:  # fmt: skip
    """The web app over ``store`` (sessions, runs, history) and ``mailer`` (sign-in links and report runs).

    ``runner`` does one job (default: build the report and deliver it with the run service); ``sns_fetch`` fetches
    SNS certificates and subscription confirmations (default: HTTPS with a timeout). ``jobs`` runs the jobs
    (default: an in-process queue; the AWS api invokes the worker function); ``files`` reads the runs' reports and
    charts (default: the out folder; the AWS api reads its S3 bucket).
    """
    manifests = ManifestCache(config.portfolio, allow_outside=config.allow_outside)
    manifests.get()  # a broken manifest stops the server at start, not at the first request
    sessions = Sessions(config)
    queue: JobQueue = jobs or Jobs(size=config.limits.queue)
    reports_files: ReportFiles = files or LocalFiles(config.out_dir)
    by_address = RateLimiter(config.limits.links_per_address, config.limits.window)
    by_client = RateLimiter(config.limits.links_per_client, config.limits.window)
    mail_lock = threading.Lock()  # one mailer: sign-in links and report runs take turns
    links = ThreadPoolExecutor(max_workers=1, thread_name_prefix="execintel-links")
    pending_links = threading.BoundedSemaphore(100)
    work = runner or _default_runner(config, store, mailer, mail_lock, settings)
    verifier = Lazy(lambda: make_verifier(config, sns_fetch))  # its certificate cache lives with the app
    runs = HistoryCache(store)  # every route reading the history shares one copy, re-read when the store changed

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        queue.start()
        yield
        queue.stop(timeout=1.0)
        links.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="execintel", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Executive reports of one portfolio: sign in with an emailed link, run and read the "
                  "reports your roles allow.")  # fmt: skip
    app.state.links = links  # the AWS api waits for a sign-in link's send before Lambda freezes the instance
    app.add_middleware(Guard, config=config)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_credentials=True,
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-CSRF-Token"])  # fmt: skip
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def current_user(request: Request) -> User:
        claims = sessions.verify(request.cookies.get(COOKIE, ""))
        session = store.session(claims.jti) if claims is not None else None
        person = manifests.person(subject=claims.subject) if claims is not None else None
        if claims is None or session is None or session.revoked is not None or person is None:
            raise HTTPException(401, "Sign in first.")
        if session.subject != claims.subject:
            raise HTTPException(401, "Sign in first.")
        request.state.subject = person.id
        return User(person, claims)

    async def csrf_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        if not same_token(request.headers.get("x-csrf-token"), user.claims.csrf):
            raise HTTPException(403, "Missing or wrong X-CSRF-Token header; reload the page.")
        return user

    Signed = Annotated[User, Depends(current_user)]
    Changing = Annotated[User, Depends(csrf_user)]

    def send_link(person: "Stakeholder", client: str) -> None:
        try:
            from execintel.delivery.compose import compose  # noqa: PLC0415

            manifest = manifests.get()
            if store.suppression(person.email) is not None:
                log_event(log, "auth.link_suppressed", subject=person.id)
                return
            token = new_link_token()
            digest = token_hash(token)
            store.add_login(digest, person.id, ttl=LINK_SECONDS)
            subject, text, html = link_email(person.name, f"{config.base_url}/auth/verify?token={token}",
                                             manifest.portfolio.name)  # fmt: skip
            message = compose(key=f"signin-{digest[:24]}", sender=manifest.sender, to=(person.name, person.email),
                              subject=subject, text=text, html=html, images={})  # fmt: skip
            with mail_lock:
                mailer.send(message, lambda: None)
                mailer.close()
            log_event(log, "auth.link_sent", subject=person.id, client=client)
        except Exception as exc:  # logged: the answer (202) went out already and must not differ
            log_event(log, "auth.link_error", subject=person.id, error=type(exc).__name__, level=logging.ERROR)
        finally:
            pending_links.release()

    @app.post("/api/auth/magic-link", status_code=202, response_model=m.LinkSent, tags=["auth"],
              responses={429: {"model": m.Error}})  # fmt: skip
    def magic_link(body: m.LinkRequest, request: Request, response: Response) -> m.LinkSent:
        """Email a single-use sign-in link to a stakeholder; the same answer for any address."""
        client = client_ip(request)
        address = body.email.strip().lower()
        wait = by_client.hit(client) or by_address.hit(hashlib.sha256(address.encode()).hexdigest())
        if wait:
            log_event(log, "auth.rate_limited", client=client)
            raise HTTPException(429, "Too many sign-in links asked for; try again later.",
                                headers={"Retry-After": str(int(wait + 0.999))})  # fmt: skip
        person = manifests.person(email=address)
        if person is not None and pending_links.acquire(blocking=False):
            links.submit(send_link, person, client)
        elif person is None:
            log_event(log, "auth.link_unknown_address", client=client)
        return m.LinkSent()

    @app.get("/auth/verify", response_class=HTMLResponse, tags=["auth"], include_in_schema=False)
    def verify_form(token: str = "") -> HTMLResponse:
        """The confirmation page of a sign-in link: nothing is consumed until its button is pressed."""
        return HTMLResponse(verify_page(token[:200]))

    @app.post("/auth/verify", tags=["auth"], include_in_schema=False)
    def verify(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
        """Use the link's token once and start a session."""
        found, why = store.consume_login(token_hash(token))
        person = manifests.person(subject=found.subject) if found is not None else None
        if found is None or person is None:
            log_event(log, "auth.link_failed", reason=why or "no such stakeholder", client=client_ip(request))
            return HTMLResponse(failed_page(why), status_code=400)
        jwt_token, claims = sessions.issue(person.id)
        store.start_session(claims.jti, person.id, datetime.fromtimestamp(claims.expires, UTC))
        request.state.subject = person.id
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, jwt_token, max_age=int(config.session_seconds), path="/", httponly=True,
                            secure=config.secure_cookies, samesite="strict")  # fmt: skip
        return response

    @app.post("/auth/logout", status_code=204, tags=["auth"], responses={401: {"model": m.Error}})
    def logout(user: Changing) -> Response:
        """End the session: the cookie is cleared and the token refused from now on."""
        store.revoke_session(user.claims.jti)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", secure=config.secure_cookies, httponly=True, samesite="strict")
        return response

    @app.get("/api/me", response_model=m.Me, tags=["api"], responses={401: {"model": m.Error}})
    def me(user: Signed) -> m.Me:
        """Who is signed in, their roles, and the CSRF token for state-changing requests."""
        p = user.person
        return m.Me(id=p.id, name=p.name, email=p.email, roles=list(p.roles), csrf_token=user.claims.csrf,
                    portfolio=manifests.get().portfolio.name)  # fmt: skip

    def latest_runs(wanted: set[str]) -> dict[str, tuple[str, datetime]]:
        """For each report of ``wanted``, the newest run that recorded it and left its HTML in the out folder."""
        found: dict[str, tuple[str, datetime]] = {}
        for run, records in runs.newest_first(manifests.get().portfolio.name):
            for record in records:
                report = record.report
                if report in wanted and report not in found and reports_files.has(run.run_id, f"{report}.html"):
                    found[report] = (run.run_id, record.generated)
            if len(found) == len(wanted):
                break
        return found

    def latest_run(report: str) -> tuple[str, datetime] | None:
        """The newest run that recorded ``report`` and left its HTML in the out folder."""
        return latest_runs({report}).get(report)

    @app.get("/api/reports", response_model=m.Reports, tags=["api"], responses={401: {"model": m.Error}})
    def reports(user: Signed) -> m.Reports:
        """The reports this user may run and read."""
        out = []
        readable = [report for report in TITLES if user.may_read(report)]
        latest_of = latest_runs(set(readable))
        for report in readable:
            job = queue.running(report)
            if job is not None and (record := store.get_run(job.run_id)) is not None and record.finished is not None:
                job = None  # finished in the store; the worker is only tidying up
            found = latest_of.get(report)
            latest = None if found is None else m.Latest(run_id=found[0], generated=found[1],
                                                         url=f"/api/reports/{report}/latest")  # fmt: skip
            out.append(m.ReportInfo(id=report, title=TITLES[report], can_run=True, latest=latest,
                                    running=job.run_id if job else None))  # fmt: skip
        return m.Reports(reports=out)

    def ended(run_id: str) -> bool:
        record = store.get_run(run_id)
        return record is not None and record.finished is not None

    def submit(job: Job) -> None:
        """Queue ``job``; a run of the same report that the store shows finished is not "already running": its
        worker is tidying up for a moment, and the new job waits behind it (the answer does not)."""
        queue.submit(job, ended=ended)

    def known_report(report_id: str) -> str:
        if report_id not in TITLES:
            raise HTTPException(404, "No such report.")
        return report_id

    @app.post("/api/reports/{report_id}", status_code=202, response_model=m.Started, tags=["api"],
              responses={401: {"model": m.Error}, 403: {"model": m.Error}, 404: {"model": m.Error},
                         409: {"model": m.Conflict}, 503: {"model": m.Error}})  # fmt: skip
    def start(report_id: str, user: Changing) -> m.Started | JSONResponse:
        """Start a run of the report (built, then delivered to its recipients); it runs in the background."""
        report = known_report(report_id)
        if not user.may_read(report):
            raise HTTPException(403, f"Your roles ({', '.join(user.person.roles) or 'none'}) do not allow the "
                                f"{report} report.")  # fmt: skip
        job = Job(new_run_id(), report, user.person.email, work)
        try:
            submit(job)
        except AlreadyRunning as exc:
            return JSONResponse({"detail": f"The {report} report is already running.", "run_id": exc.run_id}, 409)
        except QueueFull:
            raise HTTPException(503, "Too many runs are waiting; try again in a minute.",
                                headers={"Retry-After": "60"}) from None  # fmt: skip
        log_event(log, "run.queued", subject=user.person.id, run_id=job.run_id, report=report)
        return m.Started(run_id=job.run_id, status="queued", url=f"/api/runs/{job.run_id}")

    @app.get("/api/runs/{run_id}", response_model=m.Run, tags=["api"],
             responses={401: {"model": m.Error}, 404: {"model": m.Error}})  # fmt: skip
    def run(run_id: str, user: Signed) -> m.Run:
        """A run's state and, once it delivered, each delivery's outcome."""
        if not RUN_ID.fullmatch(run_id):
            raise HTTPException(404, "No such run.")
        job = queue.get(run_id)
        record = store.get_run(run_id)
        names = [r.report for r in store.reports(run_id)] if record is not None else []
        if job is not None and job.report not in names:
            names.insert(0, job.report)
        visible = [r for r in names if user.may_read(r)]
        if not visible or (record is not None and record.portfolio != manifests.get().portfolio.name):
            raise HTTPException(404, "No such run.")
        deliveries = [m.DeliveryOut(report=d.report, recipient=d.recipient, state=d.state, attempts=d.attempts,
                                    reason=d.reason)
                      for d in store.deliveries(run_id=run_id) if user.may_read(d.report)]  # fmt: skip
        return m.Run(**_run_fields(run_id, visible, job, record), deliveries=deliveries)

    @app.get("/api/history", response_model=m.History, tags=["api"], responses={401: {"model": m.Error}})
    async def history(user: Signed, limit: Annotated[int, m.Query(ge=1, le=500)] = 50) -> Response:
        """The runs of the portfolio that built a report this user may read, newest first."""
        readable = tuple(report for report in TITLES if user.may_read(report))

        def make(history: list[Any]) -> bytes:
            out = []
            for record, records in history:
                visible = [r.report for r in records if r.report in readable]
                if visible:
                    out.append(m.RunSummary(**_run_fields(record.run_id, visible, None, record)))
                if len(out) >= limit:
                    break
            return m.History(runs=out).model_dump_json().encode()

        body = runs.answer(manifests.get().portfolio.name, (readable, limit), make)
        return Response(body, media_type="application/json")

    def latest_file(report_id: str, user: User) -> str:
        report = known_report(report_id)
        if not user.may_read(report):
            raise HTTPException(403, f"Your roles do not allow the {report} report.")
        found = latest_run(report)
        if found is None:
            raise HTTPException(404, f"No {report} report has been rendered yet; run it first.")
        return found[0]

    def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
        return {code: {"model": m.Error} for code in codes}

    html_200 = {"description": "The report's HTML", "content": {"text/html": {"schema": {"type": "string"}}}}

    @app.get("/api/reports/{report_id}/latest", tags=["api"], response_model=None,
             responses={200: html_200, **errors(401, 403, 404)})  # fmt: skip
    def latest(report_id: str, user: Signed) -> Response:
        """The latest rendered HTML of the report."""
        run_id = latest_file(report_id, user)
        data = reports_files.read(run_id, f"{report_id}.html", MAX_HTML)
        if data is None:
            raise HTTPException(404, "The report's HTML is no longer there.")
        return HTMLResponse(data, headers=REPORT_HEADERS)

    @app.get("/api/reports/{report_id}/{name}", tags=["api"], include_in_schema=False)
    def chart(report_id: str, name: str, user: Signed) -> Response:
        """A chart of the latest HTML (its images are relative links to these)."""
        run_id = latest_file(report_id, user)
        if not CHART.fullmatch(name) or not name.startswith(f"{report_id}-"):
            raise HTTPException(404, "No such file.")
        data = reports_files.read(run_id, name, MAX_HTML)
        if data is None:
            raise HTTPException(404, "No such file.")
        return Response(data, media_type="image/png", headers=REPORT_HEADERS)

    @app.post("/api/webhooks/ses", tags=["webhooks"], response_model=m.WebhookResult,
              responses={403: {"model": m.Error}, 413: {"model": m.Error}, 502: {"model": m.Error}})  # fmt: skip
    async def ses_webhook(request: Request) -> m.WebhookResult:
        """Amazon SNS notifications of SES bounces, complaints and deliveries (signature checked)."""
        body = await request.body()
        result: m.WebhookResult = await run_in_threadpool(handle_sns, verifier, store, body)
        return result

    @app.get("/healthz", response_model=m.Health, tags=["ops"])
    def healthz() -> m.Health:
        """The app answers."""
        return m.Health(status="ok")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The dashboard."""
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app


def _run_fields(run_id: str, reports: list[str], job: Job | None, record: Any) -> dict[str, Any]:
    status, error = "queued", None
    if record is not None:
        status = record.status if record.finished is not None and record.status else "running"
        error = (record.summary or {}).get("error") if isinstance(record.summary, dict) else None
    if job is not None and record is None:
        status = "failed" if job.status == "error" else job.status if job.status in ("queued", "running") else \
            "failed"  # fmt: skip
        error = job.error if job.status == "error" else ("the run stopped before it was recorded"
                                                          if job.status == "done" else None)  # fmt: skip
    elif job is not None and job.status == "error" and status == "running":
        status, error = "failed", job.error
    return {"run_id": run_id, "reports": reports, "status": status, "error": error,
            "trigger": record.trigger if record is not None else None,
            "started": record.started if record is not None else None,
            "finished": record.finished if record is not None else None}  # fmt: skip


def _version() -> str:
    from execintel import __version__  # noqa: PLC0415

    return __version__


def _default_runner(config: WebConfig, store: "Store", mailer: "Mailer", mail_lock: threading.Lock,
                    settings: "Settings | None") -> Runner:  # fmt: skip
    def run(job: Job) -> None:
        from execintel.web.runner import run_job  # noqa: PLC0415

        run_job(job, config=config, store=store, mailer=mailer, mail_lock=mail_lock, settings=settings)

    return run
