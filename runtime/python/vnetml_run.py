"""vnetml_run: the run context of a job on a vnetml compute node.

A small, standard-library-only counterpart of the Azure ML SDK v1 ``Run``
(``from azureml.core import Run`` works too: the node puts a shim on the
job's PYTHONPATH)::

    from vnetml_run import Run

    run = Run.get_context()
    run.log("accuracy", 0.91)
    run.log_list("loss", [0.9, 0.5, 0.3])
    run.upload_file("outputs/extra.txt", "extra.txt")
    password = run.get_secret("db-password")

Everything travels through the node's network, as the platform's own
traffic does: metrics and secrets go to run history (an
AzureMachineLearning address, HTTPS on 443), uploaded files to the
workspace's storage account, both through the proxy the node sets in the
job's environment. An NSG that denies them makes these calls fail with the
network's explanation (the rule and the fix).

Outside a run (no AZUREML_RUN_ID in the environment) ``get_context``
returns an offline run that prints what it would log.
"""

import atexit
import http.client
import json
import math
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["Run", "RunError"]

_FLUSH_EVERY = 100  # metrics buffered before a batch is sent
_FLUSH_SECONDS = 1.0  # or this long after the first buffered one
_TRIES = 8


class RunError(Exception):
    """A call to run history or storage failed; the message says why."""

    #: run history answered and refused the call: sending it again changes nothing
    refused = False


def _context():
    ca = os.environ.get("SSL_CERT_FILE")
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    return ctx


class _ProxyRefusal(OSError):
    """The proxy did not open the tunnel; the message is its explanation."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _HTTPSConnection(http.client.HTTPSConnection):
    def _tunnel(self):
        # http.client's own CONNECT keeps the status line of a refusal and
        # drops its body: the network's explanation (the rule that refused
        # the connection, and the fix), which the node's proxy relays.
        host = self._tunnel_host
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        target = "%s:%d" % (host, self._tunnel_port)
        head = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target)
        for name, value in self._tunnel_headers.items():
            if name.lower() != "host":  # Python 3.12 adds one of its own
                head += "%s: %s\r\n" % (name, value)
        self.send((head + "\r\n").encode("latin-1"))
        resp = self.response_class(self.sock, method="CONNECT")
        try:
            resp.begin()
            if resp.status != 200:
                why = resp.read(16 << 10).decode("utf-8", "replace").strip()
                self.close()
                raise _ProxyRefusal(
                    resp.status,
                    "the proxy refused CONNECT %s: %d %s%s" % (target, resp.status, resp.reason, ": " + why if why else ""),
                )
        finally:
            resp.close()


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


def _opener():
    # Proxies come from the environment (HTTPS_PROXY), which the node set
    # to its egress into the virtual network.
    return urllib.request.build_opener(urllib.request.ProxyHandler(), _HTTPSHandler(context=_context()))


def _explain(err):
    """The server's message of an HTTP error, else the error itself."""
    if isinstance(err, urllib.error.HTTPError):
        body = err.read().decode("utf-8", "replace")
        try:
            e = json.loads(body)["error"]
            return "%s: %s" % (e.get("code"), e.get("message"))
        except (ValueError, KeyError, TypeError):
            return "HTTP %d: %s" % (err.code, body.strip()[:2000] or err.reason)
    return str(err)


class Run:
    """The current run (``Run.get_context()``)."""

    _current = None
    _lock = threading.Lock()

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.id = env["AZUREML_RUN_ID"]
        self.experiment = env.get("AZUREML_EXPERIMENT_NAME", "")
        self.attempt = int(env.get("AZUREML_RUN_ATTEMPT", "1"))
        self._history = env["AZUREML_RUN_HISTORY_URL"].rstrip("/")
        self._token = env["AZUREML_RUN_TOKEN"]
        self._artifacts = env.get("AZUREML_ARTIFACTS_URL", "")
        self._prefix = env.get("AZUREML_ARTIFACTS_PREFIX", "")
        self._open = _opener()
        self._buf = []
        self._first = None
        self._timer = None
        self._pending = []  # batches not acknowledged yet, each with its batchId
        self._mu = threading.Lock()
        self._sending = threading.Lock()  # one sender at a time: batches go in order
        self._step = {}
        atexit.register(self.flush)

    @classmethod
    def get_context(cls, allow_offline=True):
        """The run this process is part of, or an offline run."""
        with cls._lock:
            if cls._current is None:
                if "AZUREML_RUN_ID" in os.environ:
                    cls._current = Run()
                elif allow_offline:
                    cls._current = _OfflineRun()
                else:
                    raise RunError("not in a run: AZUREML_RUN_ID is not set")
            return cls._current

    # --- metrics ---------------------------------------------------------

    def log(self, name, value, description=""):
        """Log a value (a number, a string or a bool) under name."""
        if not isinstance(value, (bool, int, float, str)):
            raise TypeError("run.log takes a number, a string or a bool; use log_list for a list")
        if not isinstance(value, (bool, str)):
            try:
                finite = math.isfinite(value)
            except OverflowError:
                finite = False
            if not finite:
                # JSON has no NaN or Infinity: run history would refuse the
                # whole batch, and the other metrics in it with this one.
                raise ValueError(
                    "run.log(%r, %r): run history keeps finite numbers only; log it as a string (str(value)) to record it"
                    % (name, value)
                )
        self._add(name, value)

    def log_list(self, name, values, description=""):
        """Log a list of values under name, one step each."""
        for v in values:
            self.log(name, v)

    def _add(self, name, value):
        now = time.time()
        with self._mu:
            step = self._step.get(name, 0)
            self._step[name] = step + 1
            self._buf.append(
                {
                    "name": name,
                    "value": value,
                    "step": step,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%06dZ" % (int(now * 1e6) % 1000000),
                }
            )
            if self._first is None:
                self._first = time.monotonic()
            due = len(self._buf) >= _FLUSH_EVERY or time.monotonic() - self._first >= _FLUSH_SECONDS
            if not due and (self._timer is None or not self._timer.is_alive()):
                # Sent within _FLUSH_SECONDS even if nothing else is logged:
                # a job killed at its time limit, or that trains for an hour
                # after its last log, must not keep its metrics back.
                self._timer = threading.Timer(_FLUSH_SECONDS, self._flush_later)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def _flush_later(self):
        try:
            self.flush()
        except RunError as e:
            print("vnetml_run: %s; the metrics are kept and sent again with the next flush" % e, file=sys.stderr)

    def flush(self):
        """Send the buffered metrics to run history (retried, never doubled).

        A batch that cannot be sent is kept, with its batchId, and sent
        again by the next flush (at the latest when the script exits): run
        history ignores a batch it has already.
        """
        with self._sending:
            with self._mu:
                if self._buf:
                    self._pending.append({"batchId": uuid.uuid4().hex, "metrics": self._buf})
                    self._buf, self._first = [], None
                pending = list(self._pending)
            for body in pending:
                try:
                    self._call("POST", "/metrics", body)
                except RunError as e:
                    if e.refused:  # never taken, whatever the tries: drop it
                        with self._mu:
                            self._pending.remove(body)
                    raise
                with self._mu:
                    self._pending.remove(body)

    # --- artifacts and secrets -----------------------------------------

    def upload_file(self, name, path_or_stream):
        """Upload a file to the run's artifacts as name (e.g. outputs/x.txt)."""
        if not self._artifacts:
            raise RunError("this run has no artifact store")
        if hasattr(path_or_stream, "read"):
            data = path_or_stream.read()
        else:
            with open(path_or_stream, "rb") as f:
                data = f.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        base, _, sas = self._artifacts.partition("?")
        blob = urllib.parse.quote(self._prefix + name.lstrip("/"))
        req = urllib.request.Request(
            base + "/" + blob + "?" + sas,
            data=data,
            method="PUT",
            headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-12-02", "Content-Type": "application/octet-stream"},
        )
        try:
            with self._open.open(req, timeout=60) as r:
                r.read()
        except urllib.error.HTTPError as e:
            raise RunError("uploading %s to the run's artifacts failed: %s" % (name, _explain(e))) from None
        except (urllib.error.URLError, OSError) as e:
            why = _explain(getattr(e, "reason", e))
            raise RunError("uploading %s to the run's artifacts failed: %s" % (name, why)) from None

    def get_secret(self, name):
        """A secret of the workspace's key vault, read by run history."""
        return self._call("GET", "/secrets/" + urllib.parse.quote(name, safe=""), None)["value"]

    def get_secrets(self, secrets):
        return {n: self.get_secret(n) for n in secrets}

    # --- transport -------------------------------------------------------

    def _call(self, method, path, body):
        data = None if body is None else json.dumps(body).encode("utf-8")
        last, refused = None, False
        for i in range(_TRIES):
            req = urllib.request.Request(
                self._history + path,
                data=data,
                method=method,
                headers={"Authorization": "Bearer " + self._token, "Content-Type": "application/json"},
            )
            try:
                with self._open.open(req, timeout=30) as r:
                    return json.loads(r.read() or b"{}")
            except urllib.error.HTTPError as e:
                last = _explain(e)
                if e.code < 500 and e.code != 429:
                    refused = True
                    break  # the server's answer: retrying changes nothing
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = _explain(reason)
                if isinstance(reason, _ProxyRefusal) and reason.status < 500:
                    break  # the network's answer (a rule refused it): so is this
            if i + 1 < _TRIES:
                time.sleep(min(2.0, 0.1 * 2**i))
        err = RunError("run history (%s %s %s): %s" % (method, urllib.parse.urlsplit(self._history).netloc, path, last))
        err.refused = refused
        raise err


class _OfflineRun(Run):
    """What get_context returns outside a run: it prints what it logs."""

    def __init__(self):
        self.id = "OfflineRun_" + uuid.uuid4().hex[:8]
        self.experiment = ""
        self.attempt = 1

    def _add(self, name, value):
        print("%s: %r" % (name, value), file=sys.stderr)

    def flush(self):
        pass

    def upload_file(self, name, path_or_stream):
        print("offline: would upload %s as %s" % (path_or_stream, name), file=sys.stderr)

    def get_secret(self, name):
        if name in os.environ:
            return os.environ[name]
        raise RunError("offline run: no run history to read secret %s from (set it in the environment)" % name)
