// sse_latency: per-event latency of Server-Sent Events streams, measured at the client.
//
//   bazel build //tests/bench:sse_latency
//   taskset -c 1 bazel-bin/tests/bench/sse_latency PORT STREAMS SECONDS [PAUSE]
//
// Opens STREAMS keep-alive connections to 127.0.0.1:PORT and keeps each one streaming
// GET /sse-stamped?pause=PAUSE (frameworks/bench_sse.py: 200 events, each stamped with the server's
// CLOCK_MONOTONIC in nanoseconds just before the app's send(), `await asyncio.sleep(PAUSE)` between two),
// asking for the next answer as soon as one ends. For every event read it takes the clock right after the
// read() that returned it: latency = that reading − the stamp (one machine, one clock). Prints events/s, the
// answers that ended, and the latency's percentiles. wrk cannot do this (it sees whole answers only) and a
// Python client would be slower than the servers it measures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char kStamp[] = "data: ";       // an event starts with it, then 20 digits
constexpr size_t kStampLen = sizeof kStamp - 1;
constexpr size_t kTokenLen = kStampLen + 20;
constexpr char kEnd[] = "0\r\n\r\n";     // the last chunk of an answer
constexpr size_t kEndLen = sizeof kEnd - 1;
constexpr long kMaxMicros = 1000000;     // latencies of a second or more are counted as "over"

long long NowNs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// One stream: the bytes of the current answer not yet scanned (a stamp or the end cut by a read boundary).
struct Stream {
  int fd = -1;
  std::string pending;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s PORT STREAMS SECONDS [PAUSE]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int streams = atoi(argv[2]);
  double seconds = atof(argv[3]);
  std::string request = std::string("GET /sse-stamped?pause=") + (argc > 4 ? argv[4] : "0") +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int ep = epoll_create1(0);
  std::vector<Stream> conns(static_cast<size_t>(streams));
  for (auto& c : conns) {
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
      perror("connect");
      return 1;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    if (write(c.fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return 1;
  }
  std::vector<long long> micros(kMaxMicros, 0);
  long long events = 0, over = 0, answers = 0;
  std::vector<char> buf(1 << 17);
  struct epoll_event ready[256];
  long long end = NowNs() + static_cast<long long>(seconds * 1e9);
  while (NowNs() < end) {
    int n = epoll_wait(ep, ready, 256, 100);
    for (int i = 0; i < n; ++i) {
      Stream& c = *static_cast<Stream*>(ready[i].data.ptr);
      ssize_t got = read(c.fd, buf.data(), buf.size());
      long long now = NowNs();
      if (got <= 0) {
        fprintf(stderr, "the server closed a stream\n");
        return 1;
      }
      c.pending.append(buf.data(), static_cast<size_t>(got));
      size_t at = 0;
      for (size_t hit; (hit = c.pending.find(kStamp, at)) != std::string::npos && hit + kTokenLen <= c.pending.size();
           at = hit + kTokenLen) {
        long long stamp = strtoll(c.pending.c_str() + hit + kStampLen, nullptr, 10);
        long long us = (now - stamp) / 1000;
        if (us >= 0 && us < kMaxMicros) ++micros[static_cast<size_t>(us)];
        else ++over;
        ++events;
      }
      bool ended = c.pending.size() >= kEndLen && c.pending.compare(c.pending.size() - kEndLen, kEndLen, kEnd) == 0;
      if (ended) {
        ++answers;
        c.pending.clear();
        if (write(c.fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return 1;
      } else {
        // Keep what may hold a cut stamp or end: from the last unscanned stamp, at most kTokenLen bytes.
        size_t keep_from = c.pending.size() > kTokenLen ? c.pending.size() - kTokenLen : 0;
        c.pending.erase(0, std::max(at, keep_from));
      }
    }
  }
  printf("events %lld (%.0f/s), answers ended %lld; latency us:", events, events / seconds, answers);
  const double pcts[] = {0.50, 0.90, 0.99, 0.999};
  size_t next = 0;
  long long seen = 0;
  for (long us = 0; us < kMaxMicros && next < 4; ++us) {
    seen += micros[static_cast<size_t>(us)];
    while (next < 4 && seen >= pcts[next] * static_cast<double>(events)) {
      printf(" p%g=%ld", pcts[next] * 100, us);
      ++next;
    }
  }
  printf(" (over 1 s: %lld)\n", over);
  return 0;
}
