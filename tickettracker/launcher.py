"""Start the app: data folder, lock, server thread, then a window, the browser or nothing."""

from __future__ import annotations

import contextlib
import gc
import html
import logging
import signal
import tempfile
import threading
import time
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from .datadir import (
    InstanceLock,
    clean_orphans,
    ensure_data_dir,
    load_or_create_token,
    uploads_warning,
)
from .windowstate import STATE_FILE as WINDOW_STATE

log = logging.getLogger("tickettracker")


@dataclass
class LaunchOptions:
    data_dir: Path
    port: int = 0
    mode: str = "window"  # window | browser | none


def say(message: str) -> None:
    print(message, flush=True)


def open_browser(url: str) -> bool:
    """Open `url` in the user's browser; False (after saying so) when there is none."""
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        say(f"No web browser could be started; open this address yourself: {url}")
    return opened


PROBLEM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TicketTracker could not start</title>
<meta name="color-scheme" content="dark light">
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; padding: 1.5rem 1.75rem;
  background: #1b1d23; color: #e8e8ea; }}
h1 {{ font-size: 1.15rem; margin: 0 0 .75rem; color: #ff9d8a; }}
p {{ margin: 0 0 .75rem; overflow-wrap: anywhere; white-space: pre-wrap; }}
.hint {{ color: #a9acb6; font-size: .9rem; }}
@media (prefers-color-scheme: light) {{
  body {{ background: #fafafa; color: #1b1d23; }} h1 {{ color: #b3261e; }}
  .hint {{ color: #555; }} }}
</style></head>
<body><h1>TicketTracker could not start</h1>
<p>{message}</p>
<p class="hint">Once that is put right, start TicketTracker again.</p>
</body></html>
"""


def problem_page(message: str) -> str:
    """A self-contained page (no server behind it) saying why TicketTracker did not start."""
    return PROBLEM_PAGE.format(message=html.escape(message))


def tell_start_problem(message: str, mode: str) -> None:
    """Show why the app did not start where its user will see it.

    The message is printed as well, but whoever started TicketTracker from a menu, a desktop
    entry or the Dock has no terminal: without this, nothing at all would seem to happen.
    """
    if mode == "none":
        return
    page = problem_page(message)
    if mode == "window":
        from .window import WindowUnavailable, show_problem

        try:
            show_problem(page)
            return
        except WindowUnavailable:
            pass  # no display: the browser, as for the app itself
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", prefix="tickettracker-problem-", suffix=".html", delete=False
    ) as file:
        file.write(page)
    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(Path(file.name).as_uri())


def _show(url: str, mode: str, state_file: Path | None = None) -> None:
    """Show an already running app (second launch)."""
    if mode == "none":
        return
    if mode == "window":
        from .window import WindowUnavailable, open_window

        try:
            open_window(url, state_file=state_file)
            return
        except WindowUnavailable as exc:
            say(f"{exc}: opening TicketTracker in your web browser instead.")
    open_browser(url)


def wait_until_serving(base_url: str, token: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(
        base_url + "/api/v1/health", headers={"Authorization": f"Bearer {token}"}
    )
    while True:
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class _Stopper:
    """Turns SIGTERM/SIGINT into a clean shutdown, whatever the main thread is doing.

    A GUI toolkit's event loop may not let Python signal handlers run, so on POSIX the
    signals are blocked and a thread waits for them with sigwait instead.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.close_window = None
        self._signals = (signal.SIGTERM, signal.SIGINT)

    def install(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        if hasattr(signal, "pthread_sigmask") and main:
            signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
            threading.Thread(target=self._wait, name="signals", daemon=True).start()
        else:  # pragma: no cover - Windows
            for sig in self._signals:
                signal.signal(sig, lambda *_: self.trigger())

    def _wait(self) -> None:
        signal.sigwait(self._signals)
        self.trigger()

    def trigger(self) -> None:
        self.stop.set()
        if self.close_window is not None:
            with contextlib.suppress(Exception):  # the window may already be gone
                self.close_window()


def _acquire(lock: InstanceLock, patience: float = 15.0) -> bool:
    """Take the folder's lock; while its holder is starting or stopping (it has not published
    a URL), wait for it a little rather than turning the user away."""
    deadline = time.monotonic() + patience
    while not lock.acquire():
        if lock.running_url() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def run(options: LaunchOptions) -> int:
    data_dir = ensure_data_dir(options.data_dir)
    lock = InstanceLock(data_dir)
    if not _acquire(lock):
        running = lock.running_url()
        if running is None:
            say(
                f"Another TicketTracker is still starting or stopping on {data_dir}; "
                "try again in a moment."
            )
            return 1
        url = f"{running}/?token={load_or_create_token(data_dir)}"
        say(f"TicketTracker is already running at {url}")
        _show(url, options.mode, data_dir / WINDOW_STATE)
        return 0

    stopper = _Stopper()
    stopper.install()
    try:
        return _serve(options, data_dir, lock, stopper)
    finally:
        lock.release()


def _serve(options: LaunchOptions, data_dir: Path, lock: InstanceLock, stopper: _Stopper) -> int:
    from waitress import create_server

    from .web import create_app

    app = create_app(data_dir)
    st = app.extensions["tickettracker"]
    for leftover in clean_orphans(data_dir):  # we hold the lock: nobody else is writing
        log.info("Removed %s, left by an earlier run that was stopped mid-write", leftover)
    if warning := uploads_warning(data_dir):
        say(warning)
        log.warning(warning)
    for problem in st.loaded.problems:
        say(f"Configuration problem in {problem.describe()}")

    try:
        server = create_server(app, host="127.0.0.1", port=options.port, threads=8, ident="")
    except OSError as exc:
        say(
            f"Cannot listen on 127.0.0.1 port {options.port}: {exc.strerror or exc}. "
            "Pick another port with --port, or leave it out to use any free port."
        )
        st.engine.dispose()
        return 2
    port = server.socket.getsockname()[1]
    app.config["TICKETTRACKER_PORT"] = port
    base_url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    try:
        wait_until_serving(base_url, st.token)
        # Everything loaded so far (Flask, SQLAlchemy, templates) lives as long as the app:
        # keep it out of the garbage collector's full passes, which otherwise walk it all
        # and stall a request now and then for tens of milliseconds.
        gc.collect()
        gc.freeze()
        lock.publish(base_url)
        url = f"{base_url}/?token={st.token}"
        mode = options.mode
        if mode == "window":
            from .window import WindowUnavailable, open_window

            def ready(close) -> None:
                stopper.close_window = close
                if stopper.stop.is_set():
                    close()

            try:
                open_window(url, on_ready=ready, state_file=data_dir / WINDOW_STATE)
                stopper.stop.set()
            except WindowUnavailable as exc:
                say(f"{exc}: opening TicketTracker in your web browser instead.")
                mode = "browser"
        if mode == "browser":
            open_browser(url)
            say(f"TicketTracker is running at {url}")
            say("Press Ctrl+C to stop it.")
        elif mode == "none":
            say(f"TicketTracker is running at {url}")
        stopper.stop.wait()
    finally:
        lock.unpublish()  # a launch from now on waits for the lock instead of joining us
        stop_server(server, thread)
        st.engine.dispose()
    return 0


def stop_server(server, thread: threading.Thread, timeout: float = 5.0) -> None:
    """Stop a waitress server running in `thread`, promptly.

    Requests in flight finish first; then the listener, the wake-up pipe and every idle
    keep-alive connection (a window holds one open) are closed, so the server loop ends within
    one poll interval instead of waiting for those connections to time out.

    The sockets are closed by the server thread itself (through waitress's wake-up pipe):
    closing them from here could pull a descriptor out from under the thread's select() call,
    which then fails with "Bad file descriptor".
    """
    from waitress import wasyncore

    def close_everything() -> None:
        wasyncore.close_all(server._map, ignore_all=True)

    server.task_dispatcher.shutdown(timeout=timeout)
    if thread.is_alive():
        wake = server.trigger
        # Queue the closing and write the wake-up byte while holding the lock the server
        # thread takes to run queued work: woken by something else in between, it could
        # otherwise close the pipe before the byte is written (EBADF, or worse, a write into
        # whatever file reused the descriptor number).
        with wake.lock:
            wake.thunks.append(close_everything)
            wake._physical_pull()
        thread.join(timeout=timeout)
    if not thread.is_alive():
        close_everything()  # a thread that never ran, or ended: nothing else touches the map
