// Micro-benchmark: the server-side cost of H2Session (nghttp2 included; no socket, no app) per GET, for
// requests arriving 10 at a time (as h2load -m 10 sends them) from a real nghttp2 client session, each
// answered with a 12-byte body. Count instructions with callgrind, only inside ServerRound, at two N and
// take the difference (server/http2/README.md):
//   valgrind --tool=callgrind --toggle-collect='ServerRound*' bazel-bin/tests/bench/h2_session_bench 12000
#include <nghttp2/nghttp2.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include "server/http2/h2_session.h"
using namespace esg::http2;
struct App : H2Handler {
  H2Session* s;
  void OnStreamHead(int32_t, StreamHead&) override {}
  void OnStreamData(int32_t id, std::string_view c) override { s->Consume(id, c.size()); }
  void OnStreamEnd(int32_t id) override {
    s->SubmitResponse(id, 200, {{"content-type", "text/plain"}, {"content-length", "12"}}, false);
    s->SubmitData(id, "Hello, world", true);
  }
  void OnStreamClose(int32_t, uint32_t) override {}
};
static nghttp2_session* client;
static std::string Out() { std::string o; for (;;) { const uint8_t* p; ssize_t n = nghttp2_session_mem_send(client, &p); if (n <= 0) break; o.append((const char*)p, n); } return o; }
__attribute__((noinline)) void ServerRound(H2Session& s, const std::string& in, std::string* out) {
  s.Feed(in.data(), in.size());
  std::string_view v = s.PendingOutput(); out->assign(v); s.TakeOutput(v.size());
}
int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  nghttp2_session_callbacks* cb; nghttp2_session_callbacks_new(&cb);
  nghttp2_session_client_new(&client, cb, nullptr);
  nghttp2_submit_settings(client, 0, nullptr, 0);
  App app; H2Session s({}, &app); app.s = &s;
  std::string out;
  ServerRound(s, Out(), &out); nghttp2_session_mem_recv(client, (const uint8_t*)out.data(), out.size());
  std::string path = "/", auth = "localhost";
  nghttp2_nv nva[] = {{(uint8_t*)":method", (uint8_t*)"GET", 7, 3, 0}, {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, 0},
                      {(uint8_t*)":authority", (uint8_t*)"localhost", 10, 9, 0}, {(uint8_t*)":path", (uint8_t*)"/", 5, 1, 0},
                      {(uint8_t*)"user-agent", (uint8_t*)"h2load nghttp2/1.52.0", 10, 21, 0}};
  for (int i = 0; i < n / 10; ++i) {
    for (int j = 0; j < 10; ++j) nghttp2_submit_request(client, nullptr, nva, 5, nullptr, nullptr);
    std::string in = Out();
    ServerRound(s, in, &out);
    nghttp2_session_mem_recv(client, (const uint8_t*)out.data(), out.size());
  }
  std::string in = Out(); ServerRound(s, in, &out);
  printf("done %d open %zu\n", n, s.open_streams());
}
