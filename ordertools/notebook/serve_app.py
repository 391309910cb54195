"""The dashboard server process: Voila with a team's sign-in, culled kernels and quiet logs.

`launch` starts it as `python -m ordertools.notebook.serve_app FOLDER --port=... ...` (nothing
secret on that command line: `ps` shows it to every user). The sign-in token arrives in
`ORDERTOOLS_DASHBOARD_TOKEN`, which this process takes out of its environment before any kernel
starts, so no kernel inherits it. Voila's own handlers serve the pages; each is wrapped so that

- every request (pages, API, kernel websockets, static files) proves the token: `?token=`, the
  header `Authorization: token T`, or the signed cookie a token sets; without it the answer is
  401 (403 for a wrong token) and a small page that says how to sign in;
- a page opened with `?token=` is redirected to its address without it: the token never stays
  in the address bar, the browser's history, the kernel's QUERY_STRING or the log;
- only the pages in `launch.PAGES` render (sync and reconcile are scheduled runs, not pages);
- a page sets the `_xsrf` cookie that Voila's shutdown beacon sends back when its tab closes
  (voila#1458: without the cookie jupyter_server refuses the beacon with 403 and the kernel
  lives on); kernels of tabs closed without it (a crash, a lost network) are culled when idle.

Started by JupyterHub as a managed service, the Hub's OAuth signs people in instead of a token
(jupyterhub's own identity provider; its callback is mounted under the service's prefix, which
plain Voila 0.5 does not do). One line per page view goes to stdout; Voila's and
jupyter_server's chatter stays below WARNING, and warnings that tell an operator nothing are
dropped. SIGTERM, Ctrl-C, or the end of the process that started this one stop every kernel,
then the server.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from jupyter_client.jsonutil import json_default
from jupyter_core.utils import ensure_async, run_sync
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import PeriodicCallback
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError
from traitlets import Integer, TraitError, Type, default
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from ordertools.notebook.launch import HUB_PREFIX_ENV, LANDING, PAGES, TOKEN_ENV, TOKEN_FILE_ENV

log = logging.getLogger("ordertools.serve")
TEAM = User(username="team", name="Team", display_name="Team", initials="T")
# Warnings that tell an operator nothing: Voila renders a notebook's outputs whether or not
# Jupyter's notary trusts it, and kernels of this server talk over IPC, not TCP.
QUIET = ("is not trusted", "without encryption", "Culling '")


class TeamToken(IdentityProvider):
    """One token for the team: `?token=` or `Authorization: token T` signs a request in, and a
    signed cookie keeps the browser signed in (30 days, or until the token changes)."""

    def get_handlers(self) -> list:
        return []  # no login form: the refusal page says how to sign in

    def get_user(self, handler: web.RequestHandler) -> User | None:
        if hasattr(handler, "_ordertools_user"):
            return handler._ordertools_user
        presented = self.get_token(handler) or ""
        cookie_user = self.get_user_cookie(handler)
        user = cookie_user
        if presented and hmac.compare_digest(presented.encode(), self.token.encode()):
            user = cookie_user or TEAM
            if cookie_user is None:
                self.set_login_cookie(handler, user)
            handler._token_authenticated = True
        handler._ordertools_user = user
        handler._ordertools_refused = "wrong" if presented and user is None else "none"
        return user

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        # Every handler is wrapped, and plain tornado ones have no `base_url` attribute.
        handler.set_secure_cookie(
            self.get_cookie_name(handler),
            self.user_to_cookie(user),
            httponly=True,
            secure=handler.request.protocol == "https",
            samesite="Lax",
            path=handler.settings["base_url"],
        )


def under_hub() -> bool:
    """Started by JupyterHub as a service: the Hub signs people in (OAuth), not a token."""
    return bool(os.environ.get("JUPYTERHUB_API_TOKEN") and os.environ.get(HUB_PREFIX_ENV))


def hub_identity_provider() -> type:
    try:
        from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
    except ImportError:
        sys.exit("JupyterHub started this server, but jupyterhub is not installed beside it")
    return JupyterHubIdentityProvider


def cookie_secret(token: str) -> bytes:
    """Cookies outlive a restart of the server but not a change of the token."""
    return hmac.new(token.encode(), b"ordertools dashboard cookie", hashlib.sha256).digest()


SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: ordertools dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; margin: 0; }}
main {{ max-width: 34rem; margin: 12vh auto; background: #fff; border: 1px solid #d0d7de;
       border-radius: 8px; padding: 2rem 2.5rem; }}
h1 {{ font-size: 1.4rem; margin-top: 0; }}
.refused {{ color: #cf222e; font-weight: 600; }}
code {{ background: #eff1f3; padding: 0 .25em; border-radius: 4px; }}
form {{ display: flex; gap: .5rem; margin: 1.25rem 0; }}
input[type=password] {{ flex: 1; font: inherit; padding: .4rem .6rem; border: 1px solid #8c959f;
       border-radius: 6px; }}
button {{ font: inherit; padding: .4rem 1rem; border: 0; border-radius: 6px; background: #1f6feb;
         color: #fff; cursor: pointer; }}
.small {{ color: #59636e; font-size: .9rem; }}
</style></head>
<body><main>
<h1>Sign in to the ordertools dashboard</h1>
<p class="refused">{reason}</p>
<p>This dashboard is for your team. Open it once with the sign-in token at the end of its
address, <code>…?token=YOUR-TOKEN</code>, or paste the token here; your browser then stays
signed in.</p>
<form method="get" action="">{hidden}
<input type="password" name="token" placeholder="Sign-in token" aria-label="Sign-in token"
 autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
<p class="small">The token is set where <code>ordertools serve</code> runs, in
<code>{token_env}</code> or in the file <code>{token_file_env}</code> names: ask whoever runs
it. Scripts send the header <code>Authorization: token YOUR-TOKEN</code>.</p>
</main></body></html>
"""


def refuse(handler: web.RequestHandler) -> None:
    """401 without a token (403 with a wrong one), and the page that says how to sign in."""
    wrong = getattr(handler, "_ordertools_refused", "none") == "wrong"
    handler.clear()
    handler.set_status(403 if wrong else 401)
    if not wrong:
        handler.set_header("WWW-Authenticate", 'Token realm="ordertools dashboard"')
    handler.set_header("Content-Type", "text/html; charset=UTF-8")
    handler.set_header("Cache-Control", "no-store")
    kept = [(k, v) for k, v in parse_qsl(handler.request.query) if k != "token"]
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in kept
    )
    reason = (
        "That token is not this dashboard's: check it and sign in again."
        if wrong
        else "You are not signed in."
    )
    handler.finish(
        SIGN_IN_PAGE.format(
            reason=reason, hidden=hidden, token_env=TOKEN_ENV, token_file_env=TOKEN_FILE_ENV
        )
    )


class SignedIn:
    """Put in front of a handler class: a request that does not prove the token ends here
    (under JupyterHub, a page is sent to the Hub's sign-in instead)."""

    async def prepare(self, *args, **kwargs):
        provider = self.settings["identity_provider"]
        if await ensure_async(provider.get_user(self)) is None:
            if isinstance(provider, TeamToken) or self.request.method != "GET":
                refuse(self)
            else:
                self.redirect(self.get_login_url())  # the Hub's OAuth, back to this page
            return
        result = super().prepare(*args, **kwargs)
        if result is not None:
            await result


class Page(SignedIn):
    """A page: one log line per view, no token left in its address, and the `_xsrf` cookie."""

    async def prepare(self, *args, **kwargs):
        await super().prepare(*args, **kwargs)
        if self._finished:
            return
        if self.request.method == "GET" and "token" in self.request.query_arguments:
            kept = [(k, v) for k, v in parse_qsl(self.request.query) if k != "token"]
            self.redirect(self.request.path + (f"?{urlencode(kept)}" if kept else ""))
            return
        self.xsrf_token  # noqa: B018 (reading it sets the cookie the shutdown beacon sends)


class OwnKernel:
    """Put in front of Voila's request-info socket: a preheated kernel asks it for its page's
    address (`voila.utils.wait_for_request`). The kernel has no token; it has its kernel id,
    which only this server and the page that kernel serves know."""

    def prepare(self, *args, **kwargs):
        if self.path_kwargs.get("kernel_id") not in self.settings["kernel_manager"]:
            refuse(self)
            return
        return super().prepare(*args, **kwargs)


def gated(handler_class: type, page: bool = False) -> type:
    return type(
        f"SignedIn{handler_class.__name__}", (Page if page else SignedIn, handler_class), {}
    )


class OnlyPages(TornadoVoilaHandler):
    """Voila's page renderer, for the pages ops staff open and nothing else in the folder."""

    async def get(self, path=None):
        if path not in PAGES:
            raise web.HTTPError(404)
        return await super().get(path)


class Landing(web.RequestHandler):
    """The server's root: the store cards when the folder has them, else the list of pages."""

    def initialize(self, **kwargs):
        pass  # Voila's tree handler options: not needed to redirect

    def get(self):
        base = self.settings["base_url"]
        folder = Path(self.settings["voila"].root_dir)
        target = f"voila/render/{LANDING}" if (folder / LANDING).is_file() else "voila/tree"
        self.redirect(url_path_join(base, target))


class KernelList(APIHandler):
    """`GET /api/kernels`: the running kernels (id, last activity, connections), read-only."""

    @web.authenticated
    async def get(self):
        kernels = []
        for kernel_id in list(self.kernel_manager.list_kernel_ids()):
            try:
                kernels.append(await ensure_async(self.kernel_manager.kernel_model(kernel_id)))
            except (KeyError, TraitError):
                # Still starting (no last activity yet: jupyter_server's own list then fails
                # with a 500, as a preheated pool fills) or ended meanwhile: not listed yet.
                continue
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(kernels, default=json_default))


def page_name(handler: web.RequestHandler) -> str:
    """`store_dashboard?store=acme-us`: the page and its parameters, never the token."""
    path = handler.request.path[len(handler.settings["base_url"]) :]
    path = path.removeprefix("voila/render/").removesuffix(".ipynb") or "/"
    kept = [(k, v) for k, v in parse_qsl(handler.request.query) if k != "token"]
    return path + (f"?{urlencode(kept, safe='/')}" if kept else "")


def log_request(handler: web.RequestHandler) -> None:
    """tornado's `log_function`: one line per page view (and per server error), nothing else;
    the redirect that takes `?token=` off an address is no view of its own."""
    status = handler.get_status()
    if (isinstance(handler, Page) and status not in (301, 302)) or status >= 500:
        seconds = handler.request.request_time()
        log.info("%s %s %d %.2f s", handler.request.method, page_name(handler), status, seconds)


class Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(
            record.exc_info[1], StreamClosedError | WebSocketClosedError
        ):
            return False  # a message to a tab closed a moment before: nothing is wrong
        message = record.getMessage()
        return not any(noise in message for noise in QUIET)


def _cull_only_kernels_still_there(manager) -> None:
    """jupyter_server's culler walks a list of kernel ids taken before its first await; a tab
    closed meanwhile ends its kernel, and the culler's lookup of that id then fails with a
    KeyError and a traceback in the log. A kernel that has ended needs no culling."""
    cull = manager.cull_kernel_if_idle

    async def cull_if_still_there(kernel_id: str) -> None:
        if kernel_id in manager:  # checked and looked up with no await between
            await cull(kernel_id)

    manager.cull_kernel_if_idle = cull_if_still_there


class DashboardServer(Voila):
    """Voila as `ordertools serve` runs it (the module's docstring says how)."""

    identity_provider_class = Type(default_value=TeamToken, klass=IdentityProvider, config=True)
    preheat = Integer(
        0,
        config=True,
        help="Kernels kept started ahead for each page, its imports done: the page then only "
        "waits for its own data. A page must read its parameters after "
        "`voila.utils.wait_for_request()` (which hands a preheated kernel its page's address), "
        "else it shows its defaults.",
    )

    @default("log_level")
    def _default_log_level(self):
        return logging.WARNING

    @default("port_retries")
    def _default_port_retries(self):
        return 0  # the port asked for, or a clear failure: never a surprise port

    def initialize(self, argv=None):
        if under_hub():
            self.identity_provider_class = hub_identity_provider()
            self.auto_token = True  # no token of ours: the Hub signs people in
        else:
            token = os.environ.pop(TOKEN_ENV, "")
            if not token:
                sys.exit(f"{TOKEN_ENV} is not set: start the server with `ordertools serve`")
            self.token = token
            self.cookie_secret = cookie_secret(token)
        super().initialize(argv)
        self.open_browser = False
        self._stopping = False
        self._parent = os.getppid()
        signal.signal(signal.SIGINT, self._handle_signal_stop)
        self._quiet_logs()

    def _quiet_logs(self) -> None:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        for handler in [*self.log.handlers, *logging.getLogger().handlers]:
            handler.addFilter(Quiet())
        for name in ("tornado.access", "tornado.application", "tornado.general"):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.lastResort.addFilter(Quiet())

    def init_settings(self):
        # Kernels talk to this server over Unix sockets in its private connection folder.
        self.config.KernelManager.transport = "ipc"
        if self.preheat > 0:
            self.voila_configuration.preheat_kernel = True
            self.config.VoilaKernelManager.kernel_pools_config = {
                "default": {"pool_size": 0},
                **{page: {"pool_size": self.preheat} for page in PAGES},
            }
            # A used kernel's replacement starts this long after: its start and imports take
            # both cores for a second or two, and the page just opened needs them first.
            self.config.VoilaKernelManager.fill_delay = 4
        settings = super().init_settings()
        settings["log_function"] = log_request
        _cull_only_kernels_still_there(self.kernel_manager)
        if under_hub():  # read now, so that kernels need not inherit the service's Hub token
            self.identity_provider.hub_auth.api_token  # noqa: B018
            os.environ.pop("JUPYTERHUB_API_TOKEN")
        # The tree lists the pages only (Voila lists every notebook of the folder).
        others = [p.name for p in Path(self.root_dir).glob("*.ipynb") if p.name not in PAGES]
        self.contents_manager.hide_globs = [*self.contents_manager.hide_globs, *others]
        return settings

    def init_handlers(self):
        handlers = []
        sign_in = {h[1] for h in self.identity_provider.get_handlers()}
        for pattern, handler_class, *rest in super().init_handlers():
            if handler_class in sign_in:
                # The sign-in's own pages (the Hub's OAuth callback): open, under the base URL
                # (Voila 0.5 mounts them at the root, where a Hub's proxy never sends them).
                handlers.append((url_path_join(self.server_url, pattern), handler_class, *rest))
                continue
            if handler_class is TornadoVoilaTreeHandler and pattern == self.server_url:
                handler_class = Landing
            elif handler_class is TornadoVoilaHandler:
                handler_class = OnlyPages
            if handler_class is RequestInfoSocketHandler:
                handlers.append((pattern, type("OwnKernelQuery", (OwnKernel, handler_class), {})))
                continue
            page = handler_class in (OnlyPages, TornadoVoilaTreeHandler)
            handlers.append((pattern, gated(handler_class, page), *rest))
        handlers.insert(0, (url_path_join(self.server_url, "/api/kernels"), gated(KernelList)))
        return handlers

    def listen(self):
        # The process that started this one (`ordertools serve`) is gone: stop with it.
        PeriodicCallback(self._check_parent, 1000).start()
        super().listen()

    def _check_parent(self) -> None:
        if os.getppid() != self._parent:
            self._handle_signal_stop(signal.SIGTERM, None)

    def _handle_signal_stop(self, sig, frame):
        if self._stopping:
            return  # stopping already: every kernel is being shut down
        self._stopping = True
        if getattr(self, "ioloop", None) is None:
            sys.exit(0)  # not serving yet: no kernel to stop
        self.ioloop.add_callback(self.ioloop.stop)

    def stop(self):
        # Kernels first: their sockets live in the connection folder removed after them.
        run_sync(self.kernel_manager.shutdown_all)()
        shutil.rmtree(self.connection_dir, ignore_errors=True)


main = DashboardServer.launch_instance

if __name__ == "__main__":
    main()
