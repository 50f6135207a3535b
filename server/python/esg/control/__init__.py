"""esg.control: drive a running esg master from Python (orchestration scripts, deploy tools, tests).

    from esg.control import Client
    with Client() as esg:                       # the default socket, as esgctl uses
        print(esg.status().state)               # SERVER_STATE_SERVING (an int enum value)
        esg.drain()
        result = esg.reload(release="/srv/app/releases/42", timeout=60)
        esg.resume()
        esg.wait_healthy(timeout=30)

The raw API is in `esg.control.v1` (`control_pb2`, `control_pb2_grpc`), generated at build time from
proto/esg/control/v1/control.proto; this module only wraps it. Failed calls raise `ControlError` with the
server's canonical status (`.code`, a `grpc.StatusCode`) and its sentence (`.message`); a reload the
master rolled back raises `ReloadRolledBack` (pass `check=False` to get the response instead).

Needs the `grpcio` and `protobuf` packages (pinned in requirements.txt).
"""

from __future__ import annotations

import os
import time
from typing import Iterator, Optional

import grpc

from esg.control.v1 import control_pb2 as pb
from esg.control.v1 import control_pb2_grpc as pb_grpc

__all__ = ["Client", "ControlError", "ReloadRolledBack", "default_socket_path", "pb"]

SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"

# grpc.health.v1.Health/Check, spoken without generated stubs: the request {service: ""} is empty on the
# wire and the response is field 1 (varint). Keeping no health_pb2 avoids clashing with grpcio-health-
# checking's descriptors when both are imported.
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_HEALTH_NAMES = {0: "UNKNOWN", 1: SERVING, 2: NOT_SERVING, 3: "SERVICE_UNKNOWN"}


def default_socket_path() -> str:
    """The control socket esg and esgctl use by default (control/socket_path.h)."""
    env = os.environ.get("ESG_CONTROL_SOCKET")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/esg/control.sock"
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "esg", "control.sock")
    return f"/tmp/esg-{os.geteuid()}/control.sock"


class ControlError(Exception):
    """A failed control call: `.code` is the grpc.StatusCode, `.message` the server's sentence."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{message} ({code.name})")
        self.code = code
        self.message = message


class ReloadRolledBack(ControlError):
    """The new generation failed; the old one still serves. `.response` has reason and worker_output."""

    def __init__(self, response):
        super().__init__(grpc.StatusCode.OK, f"reload rolled back: {response.reason}")
        self.response = response

    def __str__(self) -> str:
        return self.message


def _decode_health(data: bytes) -> int:
    # A proto3 message with one varint field (tag 0x08); an empty message means 0 (UNKNOWN).
    if len(data) >= 2 and data[0] == 0x08:
        return data[1] & 0x7F
    return 0


class Client:
    """A connection to one esg master's control plane.

    `socket` is a UNIX socket path (default: default_socket_path()); for a TCP listener pass
    `address="host:port"` and the mutual-TLS files `tls_cert`, `tls_key`, `tls_ca`. `timeout` is the
    deadline in seconds for quick calls; reload/scale wait as long as the server works (up to 10 minutes).
    Thread-safe (gRPC channels are); use as a context manager or call close().
    """

    def __init__(self, socket: Optional[str] = None, *, address: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None, tls_ca: Optional[str] = None,
                 timeout: float = 10.0):
        self.timeout = timeout
        options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
        if address:
            if not (tls_cert and tls_key and tls_ca):
                raise ValueError("address= needs tls_cert, tls_key and tls_ca: the control plane only speaks "
                                 "TCP with mutual TLS")
            with open(tls_ca, "rb") as ca, open(tls_key, "rb") as key, open(tls_cert, "rb") as cert:
                creds = grpc.ssl_channel_credentials(ca.read(), key.read(), cert.read())
            self.target = address
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self.target = "unix:" + (socket or default_socket_path())
            self._channel = grpc.insecure_channel(self.target, options=options)
        self._stub = pb_grpc.ControlStub(self._channel)
        self._health = self._channel.unary_unary(_HEALTH_CHECK, request_serializer=lambda _: b"",
                                                 response_deserializer=_decode_health)

    # --- plumbing ------------------------------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, timeout: Optional[float]):
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:  # every RpcError from a unary call is also a grpc.Call
            raise ControlError(error.code(), error.details() or "") from None

    # --- the API (one method per RPC; see proto/esg/control/v1/README.md) -----------------------------
    def status(self) -> "pb.GetStatusResponse":
        """Master state, listeners, config summary and every worker (a GetStatusResponse message)."""
        return self._call(self._stub.GetStatus, pb.GetStatusRequest(), self.timeout)

    def metrics(self) -> str:
        """The master's metrics in the Prometheus text format 0.0.4 (the same text as GET /metrics)."""
        return self._call(self._stub.GetMetrics, pb.GetMetricsRequest(), self.timeout).text

    def reload(self, release: Optional[str] = None, timeout: Optional[float] = None, *,
               check: bool = True) -> "pb.ReloadResponse":
        """Start a new generation (from `release`, a directory, if given), wait until each new worker is
        ready (`timeout` seconds each; default: the master's), drain the old one. Raises ReloadRolledBack
        when the new generation failed and the old one still serves (unless check=False)."""
        request = pb.ReloadRequest(release_path=release or "")
        if timeout is not None:
            request.ready_timeout.FromNanoseconds(int(timeout * 1e9))
        response = self._call(self._stub.Reload, request, 600)
        if check and response.outcome == pb.RELOAD_OUTCOME_ROLLED_BACK:
            raise ReloadRolledBack(response)
        return response

    def scale(self, n: int) -> int:
        """Run `n` workers; returns the number serving when the master answered."""
        return self._call(self._stub.ScaleWorkers, pb.ScaleWorkersRequest(count=n), 600).workers

    def incr(self, n: int = 1) -> int:
        return self._call(self._stub.ScaleWorkers, pb.ScaleWorkersRequest(delta=n), 600).workers

    def decr(self, n: int = 1) -> int:
        return self._call(self._stub.ScaleWorkers, pb.ScaleWorkersRequest(delta=-n), 600).workers

    def drain(self) -> None:
        self._call(self._stub.Drain, pb.DrainRequest(), 600)

    def resume(self) -> None:
        self._call(self._stub.Resume, pb.ResumeRequest(), 600)

    def stop(self, quick: bool = False) -> None:
        mode = pb.SHUTDOWN_MODE_QUICK if quick else pb.SHUTDOWN_MODE_GRACEFUL
        self._call(self._stub.Shutdown, pb.ShutdownRequest(mode=mode), 600)

    def set_log_level(self, level: str) -> None:
        value = pb.LogLevel.Value("LOG_LEVEL_" + level.upper())  # ValueError for an unknown name
        self._call(self._stub.SetLogLevel, pb.SetLogLevelRequest(level=value), self.timeout)

    def reopen_logs(self) -> None:
        self._call(self._stub.ReopenLogs, pb.ReopenLogsRequest(), self.timeout)

    def health(self) -> str:
        """"SERVING" or "NOT_SERVING" (grpc.health.v1 for the whole server)."""
        return _HEALTH_NAMES.get(self._call(self._health, None, self.timeout), "UNKNOWN")

    def events(self, kinds=(), timeout: Optional[float] = None) -> Iterator["pb.Event"]:
        """Yields Event messages as they happen (kind_name, pid, generation, detail, time) until the
        generator is closed, `timeout` seconds pass, or the master stops (ControlError UNAVAILABLE).
        The subscription is active once the first `next()` call has started; see watch() to know when."""
        yield from self.watch(kinds, timeout)

    def watch(self, kinds=(), timeout: Optional[float] = None, ready=None) -> Iterator["pb.Event"]:
        """Like events(); calls `ready()` once the master has confirmed the subscription."""
        request = pb.WatchEventsRequest(kinds=[pb.EventKind.Value(k) if isinstance(k, str) else k for k in kinds])
        call = self._stub.WatchEvents(request, timeout=timeout)
        try:
            call.initial_metadata()  # sent by the server once it is subscribed
            if ready is not None:
                ready()
            for event in call:
                yield event
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                return
            raise ControlError(error.code(), error.details() or "") from None
        finally:
            call.cancel()

    def wait_healthy(self, timeout: float = 30.0, interval: float = 0.2) -> None:
        """Polls health() until SERVING; raises TimeoutError naming the last status (or error)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                last = self.health()
                if last == SERVING:
                    return
            except ControlError as error:
                last = str(error)
            time.sleep(interval)
        raise TimeoutError(f"esg at {self.target} not SERVING after {timeout} s (last: {last})")
