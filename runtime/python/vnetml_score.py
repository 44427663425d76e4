"""vnetml_score: the scoring server of one web-service replica.

Azure ML's entry-script contract (SDK v1, spec §A.8): the server imports the
user's entry script, calls its ``init()`` once, then answers each scoring
request with ``run(raw_data)``, where ``raw_data`` is the request body as a
str (the raw JSON text, not parsed)::

    python3 vnetml_score.py --entry score.py --port 0 --workers 2

    # score.py
    import json, os

    def init():
        global model
        model = load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))

    def run(raw_data):
        return {"result": model.predict(json.loads(raw_data)["data"])}

Routes (``/api/v1/service/<name>`` may prefix each, so that a router can pass
the scoring URI's path through unchanged):

* ``POST /score``: ``run()``'s return value JSON-encoded with 200, as Azure
  ML's server did: a dict or list becomes a JSON object or array, and a str
  a JSON *string* (an entry script that returns ``json.dumps(x)`` sends a
  string holding JSON, as it did on Azure). An exception in ``run()`` is a
  500 with the traceback in the body and the log.
* ``GET /``: the liveness probe, ``Healthy``.
* ``GET /swagger.json``: an OpenAPI 2.0 document of the service, with the
  entry script's ``input_sample`` and ``output_sample`` module attributes as
  the examples when it defines them.

Capacity (the deployment's ``replica_max_concurrent_requests``,
``max_request_wait_time`` and ``scoring_timeout_ms``): at most ``--workers``
calls of ``run()`` at once; a request that finds them all busy waits up to
``--max-wait-ms`` for one, then gets 503. A ``run()`` that takes longer than
``--timeout-ms`` answers 504, but Python cannot stop a thread: the call goes
on and keeps its worker until it returns (the replica is not killed), so a
hung ``run()`` costs the replica a worker, as it did on Azure. A body over
``--max-body-bytes`` is a 413.

The process prints exactly one line on stdout, ``{"port": N, "pid": P}``, once
``init()`` has returned and the socket listens (``--port 0`` picks a free
port); whatever the entry script prints goes to stderr, with the request
log. An entry script that fails to load, lacks ``init`` or ``run``, or whose
``init()`` raises, makes the process print the traceback on stderr and exit
with status 3 (the deployment becomes Failed with it in its logs).

Standard library only, Python 3.9 or later. Keys and tokens are the
router's business: the replica trusts what reaches it.
"""

import argparse
import importlib.util
import json
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["main"]

EXIT_USAGE = 2  # argparse's own status for a bad command line
EXIT_ENTRY = 3  # the entry script failed to load or init() raised

_PREFIX = re.compile(r"^(/api/v1/service/[^/]+)(/.*)?$")
_LOG = threading.Lock()


def log(level, msg):
    """One line on stderr in the inference server's format."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + ",%03d" % (int(now * 1000) % 1000)
    line = "%s | %s [%d] vnetml_score - %s\n" % (stamp, level, os.getpid(), msg)
    with _LOG:
        sys.stderr.write(line)
        sys.stderr.flush()


class EntryError(Exception):
    """The entry script failed to load; the message says how."""


def load_entry(path):
    """Imports the entry script as a module and checks its contract."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise EntryError("entry script %s does not exist" % path)
    # Sibling modules of the entry script import as they did on Azure, where
    # the source directory was the working directory.
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "__vnetml_entry__"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for fn in ("init", "run"):
        if not callable(getattr(module, fn, None)):
            raise EntryError("entry script %s defines no %s() function" % (path, fn))
    return module


class _Call:
    """One request's run(): handed to a worker, waited for by the handler."""

    __slots__ = ("raw", "rid", "done", "status", "body", "ctype", "lock", "abandoned", "queued")

    def __init__(self, raw, rid):
        self.raw = raw
        self.rid = rid
        self.done = threading.Event()
        self.status = 0
        self.body = b""
        self.ctype = ""
        self.lock = threading.Lock()
        self.abandoned = False  # the handler answered 504 and left
        self.queued = time.monotonic()


class Scorer:
    """The replica's workers: at most ``workers`` run() calls at once."""

    def __init__(self, run, workers, max_wait, timeout):
        self._run = run
        self.workers = workers
        self.max_wait = max_wait  # seconds
        self.timeout = timeout  # seconds
        # A worker holds its slot from the moment a request is admitted
        # until run() returns, even after a 504: the slots count threads
        # busy in user code, which is the replica's real capacity.
        self._slots = threading.BoundedSemaphore(workers)
        self._jobs = queue.SimpleQueue()
        for i in range(workers):
            threading.Thread(target=self._work, name="score-worker-%d" % i, daemon=True).start()

    def score(self, raw, rid):
        """(status, body, content type) of one scoring request."""
        if not self._slots.acquire(timeout=self.max_wait):
            return (503,) + _text(
                "Service Unavailable: all %d workers of this replica stayed busy for %d ms "
                "(replica_max_concurrent_requests=%d, max_request_wait_time=%d ms)"
                % (self.workers, self.max_wait * 1000, self.workers, self.max_wait * 1000)
            )
        call = _Call(raw, rid)
        self._jobs.put(call)
        if not call.done.wait(self.timeout):
            with call.lock:
                if not call.done.is_set():
                    call.abandoned = True
            if call.abandoned:
                return (504,) + _text(
                    "Gateway Timeout: run() took longer than scoring_timeout_ms=%d; "
                    "it goes on and holds one of the replica's %d workers until it returns"
                    % (self.timeout * 1000, self.workers)
                )
        return call.status, call.body, call.ctype

    def _work(self):
        while True:
            call = self._jobs.get()
            start = time.monotonic()
            try:
                result = self._run(call.raw)
                status, body, ctype = 200, json.dumps(result).encode("utf-8"), "application/json"
            except BaseException as e:  # noqa: B036 — SystemExit in run() must not end the worker
                tb = _user_traceback(e)
                log("E", "run() of request %s raised:\n%s" % (call.rid, tb.rstrip()))
                status, body, ctype = 500, tb.encode("utf-8"), "text/plain; charset=utf-8"
            took = time.monotonic() - start
            with call.lock:
                call.status, call.body, call.ctype = status, body, ctype
                call.done.set()
                late = call.abandoned
            self._slots.release()
            if late:
                log(
                    "W",
                    "run() of request %s returned %d after %.0f ms, after its 504 (scoring_timeout_ms=%d)"
                    % (call.rid, status, took * 1000, self.timeout * 1000),
                )


def _user_traceback(e):
    """The traceback of an exception raised by user code, without our frame."""
    return "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next))


def _text(msg):
    return msg.encode("utf-8"), "text/plain; charset=utf-8"


def _split(target):
    """(route, prefix) of a request target: the prefix a router kept, if any."""
    path = target.split("?", 1)[0]
    m = _PREFIX.match(path)
    if m:
        return m.group(2) or "/", m.group(1)
    return path, ""


def _json_value(v):
    """v as plain JSON data (numpy arrays and pandas frames included), or raises."""

    def default(o):
        for conv in ("tolist", "to_dict"):
            f = getattr(o, conv, None)
            if callable(f):
                return f()
        raise TypeError("%s is not JSON serializable" % type(o).__name__)

    return json.loads(json.dumps(v, default=default))


def _schema(module, attr, what):
    schema = {"description": what}
    if not hasattr(module, attr):
        return schema
    try:
        sample = _json_value(getattr(module, attr))
    except (TypeError, ValueError) as e:
        log("W", "swagger.json leaves out %s: %s" % (attr, e))
        return schema
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
    if type(sample) in kind:
        schema["type"] = kind[type(sample)]
    schema["example"] = sample
    return schema


def swagger(name, module):
    """The OpenAPI 2.0 document of the service, without basePath."""
    error = {"$ref": "#/definitions/ErrorResponse"}
    return {
        "swagger": "2.0",
        "info": {
            "title": name,
            "description": "API specification for the Azure Machine Learning service %s" % name,
            "version": "1.0",
        },
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "For example: Bearer abc123",
            }
        },
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Health check: the replica is up.",
                    "responses": {
                        "200": {"description": "The replica is up: Healthy", "schema": {"type": "string"}},
                        "default": {"description": "The service failed", "schema": error},
                    },
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": "Run the web service's model and get its prediction",
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "serviceInputPayload",
                            "in": "body",
                            "description": "The input payload of the service",
                            "schema": {"$ref": "#/definitions/ServiceInput"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The model's output", "schema": {"$ref": "#/definitions/ServiceOutput"}},
                        "default": {"description": "The service failed", "schema": error},
                    },
                }
            },
        },
        "definitions": {
            "ServiceInput": _schema(module, "input_sample", "The input of run(), as JSON"),
            "ServiceOutput": _schema(module, "output_sample", "The output of run(), as JSON"),
            "ErrorResponse": {
                "type": "object",
                "properties": {"status_code": {"type": "integer", "format": "int32"}, "message": {"type": "string"}},
            },
        },
    }


class _TooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every response carries a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "vnetml-score/1"
    # Headers and body are two writes: without TCP_NODELAY the body waits
    # for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    # set on the subclass main() builds
    scorer = None
    doc = None
    max_body = 0

    def setup(self):
        super().setup()
        self._rid = ""

    def log_request(self, code="-", size="-"):
        pass  # one line per request, written by _reply with its timing

    def log_message(self, fmt, *args):
        log("W", "%s: %s" % (self.address_string(), fmt % args))

    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it.
        n = self._length()
        if n is not None and n > self.max_body:
            self._begin()
            self._too_large(n)
            return False
        return super().handle_expect_100()

    def _begin(self):
        self._t0 = time.monotonic()
        self._rid = self.headers.get("x-ms-request-id") or self.headers.get("x-request-id") or str(uuid.uuid4())
        self._in = 0

    def _length(self):
        v = self.headers.get("Content-Length")
        if v is None:
            return None
        try:
            n = int(v)
        except ValueError:
            return -1
        return n

    def do_GET(self):
        self._begin()
        route, prefix = _split(self.path)
        try:
            self._in = len(self._body())  # a GET may carry one: it must not be read as the next request
        except (_TooLarge, _BadRequest):
            self.close_connection = True
        if route == "/":
            self._reply(200, b"Healthy", "text/plain; charset=utf-8")
        elif route == "/swagger.json":
            doc = dict(self.doc, basePath=prefix or "/")
            self._reply(200, json.dumps(doc, indent=2).encode("utf-8"), "application/json")
        elif route == "/score":
            self._reply(405, *_text("Method Not Allowed: score with POST"), extra={"Allow": "POST"})
        else:
            self._reply(404, *_text("Not Found: %s (routes: GET /, POST /score, GET /swagger.json)" % route))

    def do_POST(self):
        self._begin()
        route, _ = _split(self.path)
        try:
            body = self._body()
        except _TooLarge as e:
            self._too_large(e.args[0])
            return
        except _BadRequest as e:
            self._reply(400, *_text("Bad Request: %s" % e), close=True)
            return
        self._in = len(body)
        if route != "/score":
            if route in ("/", "/swagger.json"):
                self._reply(405, *_text("Method Not Allowed: %s takes GET" % route), extra={"Allow": "GET"})
            else:
                self._reply(404, *_text("Not Found: %s (routes: GET /, POST /score, GET /swagger.json)" % route))
            return
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError as e:
            self._reply(400, *_text("Bad Request: the body is not UTF-8 text: %s" % e))
            return
        status, out, ctype = self.scorer.score(raw, self._rid)
        self._reply(status, out, ctype)

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked()
        n = self._length()
        if n is None:
            return b""
        if n < 0:
            raise _BadRequest("Content-Length %r is not a length" % self.headers.get("Content-Length"))
        if n > self.max_body:
            raise _TooLarge(n)
        body = self.rfile.read(n)
        if len(body) != n:
            raise _BadRequest("the body ended after %d of its %d bytes" % (len(body), n))
        return body

    def _chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("bad chunk size line %r" % line[:40])
            if size == 0:
                break
            total += size
            if total > self.max_body:
                raise _TooLarge(total)
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                raise _BadRequest("a chunk ended early")
            parts.append(chunk)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _too_large(self, n):
        self._reply(
            413,
            *_text("Payload Too Large: the body has %s bytes, over this replica's limit of %d" % (n, self.max_body)),
            close=True,
        )
        self._drain_quietly()

    def _drain_quietly(self):
        # Closing a socket with unread data resets it, and the client may
        # then lose the response: read a little of what it still sends.
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            left = 1 << 20
            while left > 0:
                b = self.connection.recv(min(left, 65536))
                if not b:
                    break
                left -= len(b)
        except OSError:
            pass

    def _reply(self, status, body, ctype, extra=None, close=False):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-ms-request-id", self._rid)
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            if close or self.close_connection:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)
        except OSError as e:  # the client left
            self.close_connection = True
            log("W", "%s %s: the client left before the %d response: %s" % (self.command, self.path, status, e))
        log(
            "I",
            "%s %s %d %.1f ms in=%d out=%d id=%s"
            % (self.command, self.path, status, (time.monotonic() - self._t0) * 1000, self._in, len(body), self._rid),
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # a burst of connections waits in the backlog, not refused

    def handle_error(self, request, client_address):
        log("E", "a request from %s failed in the server:\n%s" % (client_address[0], traceback.format_exc().rstrip()))


def _claim_stdout():
    """A private stdout for the one line; fd 1 (Python's and C's) goes to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)
    return os.fdopen(fd, "w")


def _positive(kind):
    def parse(s):
        v = kind(s)
        if v < 0:
            raise argparse.ArgumentTypeError("%s is negative" % s)
        return v

    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(prog="vnetml_score", description="The scoring server of a web-service replica.")
    p.add_argument("--entry", default=os.environ.get("AZUREML_ENTRY_SCRIPT"), help="the entry script (score.py)")
    p.add_argument("--name", default="service", help="the service's name, for swagger.json")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_positive(int), default=0, help="0 picks a free port")
    p.add_argument("--workers", type=_positive(int), default=1, help="replica_max_concurrent_requests")
    p.add_argument("--max-wait-ms", type=_positive(int), default=500, help="max_request_wait_time")
    p.add_argument("--timeout-ms", type=_positive(int), default=60000, help="scoring_timeout_ms")
    p.add_argument("--max-body-bytes", type=_positive(int), default=100 << 20)
    a = p.parse_args(argv)
    if not a.entry:
        p.error("--entry is required (or AZUREML_ENTRY_SCRIPT)")
    if a.workers < 1:
        p.error("--workers must be at least 1")
    if a.timeout_ms < 1:
        p.error("--timeout-ms must be at least 1")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    out = _claim_stdout()
    family = socket.getaddrinfo(a.host, a.port, type=socket.SOCK_STREAM)[0][0]
    server_cls = type("Server", (_Server,), {"address_family": family})
    try:
        # Bound before init(): connections that arrive while the model
        # loads wait in the backlog and are served once it has.
        srv = server_cls((a.host, a.port), Handler)
    except OSError as e:
        log("E", "cannot listen on %s:%d: %s" % (a.host, a.port, e))
        return 1
    port = srv.server_address[1]
    entry = os.path.abspath(a.entry)
    os.environ["AZUREML_ENTRY_SCRIPT"] = entry
    log(
        "I",
        "entry script %s, model dir %s, %d workers, max wait %d ms, timeout %d ms, body limit %d bytes"
        % (
            entry,
            os.environ.get("AZUREML_MODEL_DIR", "(unset)"),
            a.workers,
            a.max_wait_ms,
            a.timeout_ms,
            a.max_body_bytes,
        ),
    )
    try:
        module = load_entry(entry)
    except EntryError as e:
        log("E", "the entry script failed, the replica exits with status %d: %s" % (EXIT_ENTRY, e))
        return EXIT_ENTRY
    except BaseException:  # noqa: B036 — a SyntaxError or a SystemExit while importing
        msg = traceback.format_exc().rstrip()
        log("E", "the entry script failed to load, the replica exits with status %d:\n%s" % (EXIT_ENTRY, msg))
        return EXIT_ENTRY
    log("I", "invoking init() of %s" % entry)
    t0 = time.monotonic()
    try:
        module.init()
    except BaseException as e:  # noqa: B036 — SystemExit in init() fails the replica too
        msg = _user_traceback(e).rstrip()
        log("E", "init() raised, the replica exits with status %d:\n%s" % (EXIT_ENTRY, msg))
        return EXIT_ENTRY
    log("I", "init() returned after %.0f ms" % ((time.monotonic() - t0) * 1000))

    Handler.scorer = Scorer(module.run, a.workers, a.max_wait_ms / 1000.0, a.timeout_ms / 1000.0)
    Handler.doc = swagger(a.name, module)
    Handler.max_body = a.max_body_bytes

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    out.write(json.dumps({"port": port, "pid": os.getpid()}) + "\n")
    out.close()  # the one line: the reader sees EOF after it
    log("I", "listening on %s:%d" % (a.host, port))
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()
        log("I", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
