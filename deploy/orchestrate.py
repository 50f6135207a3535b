#!/usr/bin/env python3
"""Deploy a new release to running esg masters through their control planes (esg.control): one node, or a
fleet behind a load balancer, one node at a time, rolling the fleet back when a node fails.

    orchestrate.py --socket /run/esg/control.sock --release /srv/app/releases/42 [--no-drain]
    orchestrate.py --release /srv/app/releases/42 \\
        --node control=/run/esg/a/control.sock,link=/run/esg/fleet/a.sock \\
        --node control=/run/esg/b/control.sock,link=/run/esg/fleet/b.sock ...

Steps on each node, each printed as it happens:
  1. status: the master, its generation and release (app_dir) before the deploy;
  2. out of rotation (fleet): remove the node's rotation link, the UNIX socket path nginx's upstream names
     (nginx's connect() then fails before anything is sent, so it passes every request, POSTs included, to
     the next server), and/or run --out-cmd; then wait until a heartbeat taken after that shows no
     connection and no request on any worker (no request is waiting in the node when it drains);
  3. drain (unless --no-drain): the workers finish and exit, health says NOT_SERVING;
  4. deploy: the caller's hook (--deploy-cmd; it, --out-cmd and --in-cmd run by sh with $ESG_NODE,
     $ESG_CONTROL_SOCKET, $ESG_RELEASE and $ESG_SERVE, where the node serves);
  5. resume: the master refuses to reload while drained (FAILED_PRECONDITION), so the node starts workers on
     the old release first (out of rotation, they get no traffic);
  6. reload with the new release: the master starts the new generation, waits until every new worker is
     ready (the readiness gate, --ready-timeout each), then drains the old one; if a worker fails, the old
     generation keeps serving and the worker's output is printed; the reload's events are printed as they
     happen;
  7. health SERVING, the master's app_dir is the release, and --check PATH answers 2xx over the node's own
     socket (no load balancer in between);
  8. back in rotation: the link again points at the node's socket, and/or --in-cmd runs; the next node leaves
     rotation --pause seconds later (nginx skips a server for fail_timeout after a failed connect: without
     the pause it could count the node just back and the next one out as failed at once, and answer 502).
When a node fails at any step, it is put back on its previous release (if the reload had switched it) and into
rotation, the nodes already rolled are rolled back to their previous releases in reverse order (without the
deploy hook: their old release directories are still there), and the nodes after it are never touched.

Exit codes: 0 deployed everywhere; 1 a control call, the deploy hook or --check failed; 3 not healthy in time;
4 a reload rolled back. With 1, 3 or 4 every node serves its previous release again; 5: restoring failed and
the message names the node that needs a hand. Needs the esg package (esg.control) and grpcio + protobuf on the
Python path.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from esg.control import Client, ControlError, ReloadRolledBack, default_socket_path

EXIT_CONTROL, EXIT_UNHEALTHY, EXIT_ROLLED_BACK, EXIT_STUCK = 1, 3, 4, 5


def say(text: str) -> None:
    print(f"orchestrate: {text}", flush=True)


class NodeFailed(Exception):
    """A step failed on one node; `code` is the exit code it stands for."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


@dataclass
class Node:
    """One esg master: its control socket, optional rotation link, and what it ran before the roll."""
    name: str
    control: str
    link: str = ""
    serve: str = ""              # where it serves: a UNIX socket path or host:port (from GetStatus)
    previous: str = ""           # its app_dir before the roll
    generation: int = 0
    switched: bool = False       # the reload to the new release succeeded
    out_at: float = field(default=0.0, repr=False)


def parse_node(spec: str, index: int) -> Node:
    """`control=PATH[,link=PATH][,name=NAME]`, or just the control socket's path."""
    if "=" not in spec:
        return Node(name=str(index), control=spec)
    fields = dict(part.split("=", 1) for part in spec.split(",") if part)
    unknown = set(fields) - {"control", "link", "name"}
    if unknown or "control" not in fields:
        raise argparse.ArgumentTypeError(f"--node {spec!r}: want control=PATH[,link=PATH][,name=NAME]")
    return Node(name=fields.get("name", str(index)), control=fields["control"], link=fields.get("link", ""))


def config_of(status) -> dict:
    return {entry.key: entry.value for entry in status.config}


class Roll:
    """Rolls `release` across `nodes` in order (see the module docstring for the steps)."""

    def __init__(self, nodes: list[Node], args):
        self.nodes = nodes
        self.args = args
        self.rotation = len(nodes) > 1 or any(n.link for n in nodes) or bool(args.out_cmd or args.in_cmd)
        self.back_at = 0.0  # when the last node went back into rotation

    def log(self, node: Node, text: str) -> None:
        say(f"[{node.name}] {text}" if self.rotation else text)

    # --- the load balancer ---------------------------------------------------------------------------
    def hook(self, node: Node, command: str, release: str) -> None:
        env = dict(os.environ, ESG_NODE=node.name, ESG_CONTROL_SOCKET=node.control, ESG_RELEASE=release,
                   ESG_SERVE=node.serve)
        subprocess.run(command, shell=True, check=True, env=env)

    def take_out(self, esg: Client, node: Node, release: str) -> None:
        wait = self.back_at + self.args.pause - time.monotonic()
        if self.rotation and wait > 0:
            time.sleep(wait)  # the previous node is live again in nginx's eyes (see --pause)
        if node.link and os.path.lexists(node.link):
            os.unlink(node.link)
            self.log(node, f"out of rotation: removed {node.link}")
        if self.args.out_cmd:
            self.hook(node, self.args.out_cmd, release)
            self.log(node, "out of rotation: --out-cmd done")
        node.out_at = time.monotonic()
        if self.rotation:
            self.wait_quiet(esg, node)

    def wait_quiet(self, esg: Client, node: Node) -> None:
        """Until every worker's last heartbeat is later than out_at + --settle and shows nothing open.

        Workers report connections and requests in flight about once a second; a heartbeat taken after the
        node left rotation (plus --settle for connections nginx opened just before) and showing zero means
        no request is waiting in the node. Draining closes connections that have not sent a request yet, so
        without this wait a request nginx had just written could be lost."""
        deadline = time.monotonic() + self.args.quiet_timeout
        while True:
            asked = time.monotonic()
            status = esg.status()
            fresh = [w for w in status.workers if asked - w.since_heartbeat.ToNanoseconds() / 1e9
                     > node.out_at + self.args.settle]
            busy = sum(w.connections + w.in_flight for w in status.workers)
            if status.workers and len(fresh) == len(status.workers) and busy == 0:
                self.log(node, "quiet: no connection open on any worker")
                return
            if time.monotonic() > deadline:
                self.log(node, f"still {busy} connection(s) or request(s) after {self.args.quiet_timeout} s; "
                               "draining anyway (in-flight requests finish)")
                return
            time.sleep(0.2)

    def put_back(self, node: Node, release: str) -> None:
        if node.link:
            if not node.serve.startswith("/"):
                raise NodeFailed(EXIT_STUCK, f"link= needs a node serving on a UNIX socket, not {node.serve}")
            temporary = f"{node.link}.{os.getpid()}"
            os.symlink(node.serve, temporary)
            os.replace(temporary, node.link)  # atomic: nginx sees the old state or the new one
            self.log(node, f"in rotation: {node.link} -> {node.serve}")
        if self.args.in_cmd:
            self.hook(node, self.args.in_cmd, release)
            self.log(node, "in rotation: --in-cmd done")
        self.back_at = time.monotonic()

    # --- one node --------------------------------------------------------------------------------------
    def reload(self, esg: Client, node: Node, release: str) -> None:
        """Reload onto `release`, printing the reload's events; NodeFailed(4) when the master rolled back."""
        ready = threading.Event()
        done = threading.Event()

        def watch() -> None:
            try:
                for event in esg.watch(timeout=self.args.ready_timeout * 4, ready=ready.set):
                    self.log(node, f"event {event.kind_name} generation {event.generation} pid {event.pid} "
                                   f"{event.detail}")
                    # Until the reload's own end: the reply can overtake the stream's last events, so `done`
                    # alone would drop reload_finished (the join below bounds the wait).
                    if event.kind_name == "reload_finished" or (done.is_set() and event.kind_name != "worker_ready"):
                        return
            except ControlError:
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ready.wait(5)
        try:
            result = esg.reload(release=release or None, timeout=self.args.ready_timeout)
            self.log(node, f"reloaded: generation {result.generation} serving")
        except ReloadRolledBack as failed:
            if failed.response.worker_output:
                print(failed.response.worker_output, file=sys.stderr, flush=True)
            raise NodeFailed(EXIT_ROLLED_BACK, f"reload rolled back: {failed.response.reason}") from None
        finally:
            done.set()
            watcher.join(timeout=5)

    def check(self, node: Node) -> None:
        """GET --check over the node's own listener; anything but 2xx fails the node."""
        path = self.args.check
        try:
            if node.serve.startswith("/"):
                conn = http.client.HTTPConnection("localhost", timeout=10)
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(10)
                conn.sock.connect(node.serve)
            else:
                host, _, port = node.serve.rpartition(":")
                conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
            conn.request("GET", path, headers={"Host": "localhost"})
            response = conn.getresponse()
            body = response.read(200)
            conn.close()
        except OSError as error:
            raise NodeFailed(EXIT_CONTROL, f"--check {path}: {error}") from None
        if not 200 <= response.status < 300:
            raise NodeFailed(EXIT_CONTROL, f"--check {path} answered {response.status}: {body!r}")
        self.log(node, f"check {path}: {response.status}")

    def upgrade(self, node: Node, release: str, deploy: bool) -> None:
        """Steps 2-8 on one node. Raises NodeFailed after putting the node back on its previous release."""
        with Client(node.control) as esg:
            try:
                self.take_out(esg, node, release)
                if not self.args.no_drain:
                    esg.drain()
                    self.log(node, f"drained; health is {esg.health()}")
                if deploy and self.args.deploy_cmd:
                    self.log(node, f"deploying: {self.args.deploy_cmd}")
                    try:
                        self.hook(node, self.args.deploy_cmd, release)
                    except subprocess.CalledProcessError as error:
                        raise NodeFailed(EXIT_CONTROL, f"deploy command failed ({error.returncode})") from None
                if not self.args.no_drain:
                    esg.resume()
                    esg.wait_healthy(timeout=self.args.ready_timeout)
                    self.log(node, "resumed on the old release")
                self.reload(esg, node, release)
                node.switched = True
                esg.wait_healthy(timeout=self.args.ready_timeout)
                after = esg.status()
                app_dir = config_of(after)["app_dir"]
                if release and app_dir != os.path.realpath(release):
                    raise NodeFailed(EXIT_CONTROL, f"serving {app_dir}, not {release}")
                if self.args.check:
                    self.check(node)
                self.log(node, f"healthy: generation {after.generation}, {len(after.workers)} workers, {app_dir}")
                self.put_back(node, release)
            except TimeoutError as error:
                self.restore(esg, node, EXIT_UNHEALTHY, str(error))
            except ControlError as error:
                self.restore(esg, node, EXIT_CONTROL, f"control call failed: {error}")
            except NodeFailed as error:
                self.restore(esg, node, error.code, str(error))
            except (OSError, subprocess.CalledProcessError) as error:  # a rotation hook or the link
                self.restore(esg, node, EXIT_CONTROL, f"load balancer step failed: {error}")

    def restore(self, esg: Client, node: Node, code: int, reason: str) -> None:
        """The node failed: back on its previous release, into rotation if healthy; then raise NodeFailed."""
        self.log(node, f"FAILED: {reason}")
        try:
            esg.resume()  # no-op unless drained
            if node.switched:
                self.reload(esg, node, node.previous)
                node.switched = False
            esg.wait_healthy(timeout=self.args.ready_timeout)
            self.log(node, f"back on {config_of(esg.status())['app_dir']}")
            self.put_back(node, node.previous)
        except (ControlError, TimeoutError, NodeFailed, OSError, subprocess.CalledProcessError) as error:
            raise NodeFailed(EXIT_STUCK, f"{reason}; restoring node {node.name} failed too ({error}): it is out "
                                         "of rotation and needs a hand") from None
        raise NodeFailed(code, reason)

    # --- the fleet -------------------------------------------------------------------------------------
    def survey(self) -> None:
        for node in self.nodes:
            with Client(node.control) as esg:
                status = esg.status()
            node.previous = config_of(status)["app_dir"]
            node.generation = status.generation
            unix = [address[5:] for address in status.listeners if address.startswith("unix:")]
            node.serve = unix[0] if unix else status.listeners[0].split("://")[-1] if status.listeners else ""
            self.log(node, f"master {status.master_pid}, generation {status.generation}, "
                           f"{len(status.workers)} workers, release {node.previous}")

    def run(self) -> int:
        try:
            self.survey()
        except ControlError as error:
            say(f"control call failed: {error}")
            return EXIT_CONTROL
        release = self.args.release
        done: list[Node] = []
        for node in self.nodes:
            try:
                self.upgrade(node, release, deploy=True)
                done.append(node)
            except NodeFailed as failed:
                say(f"node {node.name} failed ({failed}); the nodes after it were not touched")
                if failed.code == EXIT_STUCK:
                    return EXIT_STUCK
                return self.roll_back(done) or failed.code
        say(f"all {len(self.nodes)} node(s) serve {release or 'their release, reloaded'}")
        return 0

    def roll_back(self, done: list[Node]) -> int:
        """Each node in `done`, newest first, back to its previous release. 0 or EXIT_STUCK."""
        for node in reversed(done):
            self.log(node, f"rolling back to {node.previous}")
            node.switched = False
            try:
                self.upgrade(node, node.previous, deploy=False)
            except NodeFailed as failed:
                say(f"rolling back node {node.name} failed: {failed}")
                return EXIT_STUCK
        if done:
            say(f"rolled back {len(done)} node(s) to their previous releases")
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", help=f"one master's control socket [{default_socket_path()}]")
    parser.add_argument("--node", action="append", default=[], metavar="control=PATH[,link=PATH][,name=NAME]",
                        help="a node of the fleet, in rolling order (repeat); link: its rotation symlink")
    parser.add_argument("--release", default="", help="release directory for the new generation")
    parser.add_argument("--deploy-cmd", default="", help="shell command that puts the release in place")
    parser.add_argument("--out-cmd", default="", help="shell command taking $ESG_NODE out of the load balancer")
    parser.add_argument("--in-cmd", default="", help="shell command putting $ESG_NODE back in the load balancer")
    parser.add_argument("--check", default="", metavar="PATH", help="GET PATH on the node must answer 2xx")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds per new worker")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds after leaving rotation before a worker's heartbeat counts as quiet")
    parser.add_argument("--quiet-timeout", type=float, default=60.0, help="longest wait for a quiet node")
    parser.add_argument("--pause", type=float, default=2.0,
                        help="seconds between a node's return and the next one leaving; at least nginx's "
                             "fail_timeout + 1, so nginx never counts two nodes as failed at once")
    parser.add_argument("--no-drain", action="store_true", help="keep serving during the deploy")
    args = parser.parse_args(argv)
    if args.socket and args.node:
        parser.error("--socket is one node; use --node for each node of a fleet")
    specs = args.node or [args.socket or default_socket_path()]
    try:
        nodes = [parse_node(spec, i + 1) for i, spec in enumerate(specs)]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return Roll(nodes, args).run()


if __name__ == "__main__":
    sys.exit(main())
