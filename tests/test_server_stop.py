"""Stopping the embedded WSGI server: prompt, and without errors in the server thread."""

import socket
import threading

from waitress import create_server

from tickettracker.launcher import stop_server


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_stopping_with_an_idle_keep_alive_connection_never_breaks_the_server_thread(
    monkeypatch,
):
    """A window keeps a connection open; stopping must close it without racing the poll loop.

    Closing sockets from another thread while the server thread sits in select() made that
    thread die with "Bad file descriptor" now and then; so did the server thread closing the
    wake-up pipe before the stop had written to it. Both were rare, so this stops many times.
    """
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    for _ in range(600):
        server = create_server(_hello, host="127.0.0.1", port=0, threads=2)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        with socket.create_connection(server.socket.getsockname(), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):
                answer += conn.recv(1000)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            stop_server(server, thread)
            assert not thread.is_alive(), "the server thread is still running after stop"
            assert conn.recv(1000) == b"", "the idle connection was left open"
    assert errors == []


def test_stopping_a_server_whose_thread_never_started_closes_its_socket():
    server = create_server(_hello, host="127.0.0.1", port=0, threads=1)
    address = server.socket.getsockname()
    stop_server(server, threading.Thread(target=server.run, daemon=True))
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        pass
    else:
        raise AssertionError("the listening socket is still accepting connections")
