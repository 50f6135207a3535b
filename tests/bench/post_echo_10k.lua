-- wrk script of the post-echo-10k workload: POST /echo with a 10 KiB body
-- (same bytes as workloads.ECHO_BODY, so wrk and the callgrind client send the same request).
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = string.rep("e", 10240)
wrk.headers["Content-Type"] = "application/octet-stream"
