#!/usr/bin/env python3
"""Deploy a new release to a running esg master through its control plane (esg.control).

    orchestrate.py --socket /run/esg/control.sock --release /srv/app/releases/42 [--no-drain]

Steps, each printed as it happens:
  1. status: the master and its generation before the deploy;
  2. drain (unless --no-drain): stop taking new connections, so a load balancer health-checking
     grpc.health.v1 (or `esgctl health`) moves traffic elsewhere while this node changes;
  3. deploy: the caller's hook (--deploy-cmd, e.g. rsync + pip install into the release's venv);
  4. resume: the master refuses to reload while drained (FAILED_PRECONDITION), so the node takes traffic
     again on the old release first (the drained workers exited; resume starts fresh ones);
  5. reload with the new release: the master starts the new generation, waits until every new worker is
     ready, then drains the old one, without dropping a request; if a worker fails, the old generation
     keeps serving and this script prints the worker's output and exits 4; the reload's events are
     printed as they happen;
  6. wait until health says SERVING.

Exit codes: 0 deployed; 1 a control call failed; 3 not healthy in time; 4 reload rolled back.
Needs the esg package (esg.control) and grpcio + protobuf on the Python path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading

from esg.control import Client, ControlError, ReloadRolledBack, default_socket_path


def say(text: str) -> None:
    print(f"orchestrate: {text}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", default=default_socket_path(), help="the master's control socket")
    parser.add_argument("--release", default="", help="release directory for the new generation")
    parser.add_argument("--deploy-cmd", default="", help="shell command that puts the release in place")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds per new worker")
    parser.add_argument("--no-drain", action="store_true", help="keep serving during the deploy")
    args = parser.parse_args(argv)

    with Client(args.socket) as esg:
        try:
            before = esg.status()
            say(f"master {before.master_pid}, generation {before.generation}, {len(before.workers)} workers")
            if not args.no_drain:
                esg.drain()
                say(f"drained; health is {esg.health()}")
            if args.deploy_cmd:
                say(f"deploying: {args.deploy_cmd}")
                subprocess.run(args.deploy_cmd, shell=True, check=True)
            if not args.no_drain:
                esg.resume()
                esg.wait_healthy(timeout=args.ready_timeout)
                say("resumed on the old release")

            ready = threading.Event()
            done = threading.Event()

            def watch() -> None:
                for event in esg.watch(timeout=args.ready_timeout * 4, ready=ready.set):
                    say(f"event {event.kind_name} generation {event.generation} pid {event.pid} {event.detail}")
                    # Until the reload's own end: the reply can overtake the stream's last events, so
                    # `done` alone would drop reload_finished (the join below bounds the wait).
                    if event.kind_name == "reload_finished" or (done.is_set() and event.kind_name != "worker_ready"):
                        return

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            ready.wait(5)
            try:
                result = esg.reload(release=args.release or None, timeout=args.ready_timeout)
                say(f"reloaded: generation {result.generation} serving")
            except ReloadRolledBack as failed:
                say(f"reload rolled back: {failed.response.reason}")
                if failed.response.worker_output:
                    print(failed.response.worker_output, file=sys.stderr)
                return 4
            finally:
                done.set()
                watcher.join(timeout=5)

            try:
                esg.wait_healthy(timeout=args.ready_timeout)
            except TimeoutError as error:
                say(str(error))
                return 3
            after = esg.status()
            say(f"healthy: generation {after.generation}, {len(after.workers)} workers")
            return 0
        except TimeoutError as error:
            say(str(error))
            return 3
        except ControlError as error:
            say(f"control call failed: {error}")
            return 1
        except subprocess.CalledProcessError as error:
            say(f"deploy command failed ({error.returncode}); resuming the old release")
            esg.resume()
            return 1


if __name__ == "__main__":
    sys.exit(main())
